"""Frame bookkeeping, written once: decode, unwrap device time, drop resends, count losses.

The ingester keeps one :class:`FrameTracker` per tool link; the API keeps one per live
session. Both see a stream of notifications in arrival order and must agree on what counts:

- a notification that does not decode is **malformed**: counted, dropped, never guessed at;
- a frame whose first sample is at or before the newest sample already taken (on the
  unwrapped device clock) is a **duplicate** — a resend after an outage or a restart;
- a gap in ``seq`` is **lost** frames, less the malformed ones that arrived in it (those
  were counted already).

>>> from strigil.ingest import protocol as p
>>> import numpy as np
>>> zeros = np.zeros(4)
>>> def frame(seq, t_us):
...     return p.encode_frame(seq=seq, t_us=t_us, dt_us=5000, force_n=zeros,
...                           acc_g=np.zeros((4, 3)), gyr_dps=np.zeros((4, 3)))
>>> tracker = FrameTracker()
>>> [tracker.track(f) is not None for f in (frame(0, 0), frame(0, 0), b"bad", frame(3, 60000))]
[True, False, False, True]
>>> tracker.counts
FrameCounts(frames=2, samples=8, malformed_frames=1, duplicate_frames=1, lost_frames=1)
"""

from __future__ import annotations

from dataclasses import dataclass

from strigil.ingest import protocol as p


@dataclass(slots=True)
class FrameCounts:
    """What a tracker has seen; every count since it was made (or resumed)."""

    frames: int = 0
    """Frames taken (decoded and new)."""
    samples: int = 0
    malformed_frames: int = 0
    duplicate_frames: int = 0
    lost_frames: int = 0
    """Frames that never arrived (``seq`` gaps, not counting malformed frames that did)."""


@dataclass(frozen=True, slots=True)
class TrackedFrame:
    """A new frame and where it sits on the unwrapped device clock (µs)."""

    frame: p.Frame
    device_us: int
    """Unwrapped device time of the frame's first sample."""

    @property
    def last_us(self) -> int:
        """Unwrapped device time of the frame's last sample."""
        return self.device_us + (self.frame.n - 1) * self.frame.dt_us


class FrameTracker:
    """One stream's frames in arrival order (see the module docstring).

    ``hwm_us`` resumes a stream whose newest sample is known (an API restart): the device
    clock is unwrapped from there, and frames up to it are duplicates.
    """

    __slots__ = ("_last_seq", "_malformed_since_good", "_unwrap", "counts", "hwm_us")

    def __init__(self, hwm_us: int | None = None, *, counts: FrameCounts | None = None) -> None:
        self.counts = FrameCounts() if counts is None else counts
        """Where the counts go (a link's or a session's counters carry on from there)."""
        self.hwm_us = hwm_us
        """Unwrapped device time of the newest sample taken (µs), None before the first."""
        self._unwrap = (
            p.DeviceClockUnwrapper()
            if hwm_us is None
            else p.DeviceClockUnwrapper.resuming_at(hwm_us)
        )
        self._last_seq: int | None = None
        self._malformed_since_good = 0

    def track(self, data: bytes | bytearray | memoryview) -> TrackedFrame | None:
        """The frame if it is new; None (and counted) if it is malformed or a duplicate."""
        counts = self.counts
        try:
            frame = p.decode_frame(data)
        except p.MalformedFrameError:
            counts.malformed_frames += 1
            self._malformed_since_good += 1  # its seq shows up as a gap: not a loss
            return None
        device_us = self._unwrap.unwrap(frame.t_us)
        if self.hwm_us is not None and device_us <= self.hwm_us:
            counts.duplicate_frames += 1
            return None
        if self._last_seq is not None:
            lost = p.frames_lost(self._last_seq, frame.seq) - self._malformed_since_good
            counts.lost_frames += max(lost, 0)
        self._last_seq, self._malformed_since_good = frame.seq, 0
        tracked = TrackedFrame(frame, device_us)
        self.hwm_us = tracked.last_us
        counts.frames += 1
        counts.samples += frame.n
        return tracked

    def rewind(self, hwm_us: int | None) -> None:
        """Go back to ``hwm_us``: what was taken after it was not kept and, resent, must be
        taken again (the API after a failed write)."""
        self.hwm_us = hwm_us
        if hwm_us is not None:
            self._unwrap = p.DeviceClockUnwrapper.resuming_at(hwm_us)
