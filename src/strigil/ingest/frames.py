"""Frame bookkeeping, written once: decode, unwrap device time, drop resends, count losses.

The ingester keeps one :class:`FrameTracker` per tool link; the API keeps one per live
session. Both see a stream of notifications in arrival order and must agree on what counts:

- a notification that does not decode is **malformed**: counted, dropped, never guessed at;
- a frame whose first sample is at or before the newest sample already taken (on the
  unwrapped device clock) is a **duplicate** — a resend after an outage or a restart;
- a gap in ``seq`` is **lost** frames, less the malformed ones that arrived in it (those
  were counted already);
- given the host time each frame was received at, a frame received later than the newest one
  whose device time jumps further ahead than the host clock allows (:data:`JUMP_SLACK_US`
  beyond the host time elapsed), or back before samples already taken, is **quarantined**:
  counted and dropped, so one wild frame cannot make every genuine frame after it a
  "duplicate" (resends carry their first receive time, so they are duplicates as before);
- ... unless its device clock restarted near zero (a **reboot**: clock and ``seq`` restart):
  then the new clock is placed on the stream's timeline where the host clock says it is, and
  the stream goes on — the time in between is a gap, nothing is dropped.

>>> from strigil.ingest import protocol as p
>>> import numpy as np
>>> zeros = np.zeros(4)
>>> def frame(seq, t_us):
...     return p.encode_frame(seq=seq, t_us=t_us, dt_us=5000, force_n=zeros,
...                           acc_g=np.zeros((4, 3)), gyr_dps=np.zeros((4, 3)))
>>> tracker = FrameTracker()
>>> [tracker.track(f) is not None for f in (frame(0, 0), frame(0, 0), b"bad", frame(3, 60000))]
[True, False, False, True]
>>> c = tracker.counts
>>> c.frames, c.samples, c.malformed_frames, c.duplicate_frames, c.lost_frames
(2, 8, 1, 1, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from strigil.ingest import protocol as p

JUMP_SLACK_US: Final = 2_000_000
"""How far a frame's device time may run ahead of the host time elapsed (latency, buffering)."""
JUMP_PPM: Final = 1000
"""And a device clock up to this fast against the host (real tools: tens of ppm)."""
REBOOT_WINDOW_US: Final = 600_000_000
"""A clock this young (10 min) after an implausible jump is a tool that rebooted."""


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
    quarantined_frames: int = 0
    """Frames whose device time jumped implausibly (against the host clock): dropped, and
    never allowed to move the high-water mark."""
    reboots: int = 0
    """Times the tool's clock and ``seq`` restarted mid-stream (a new segment, gap marked)."""


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

    __slots__ = (
        "_last_host_ns",
        "_last_seq",
        "_malformed_since_good",
        "_unwrap",
        "counts",
        "hwm_us",
    )

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
        self._last_host_ns: int | None = None

    def track(
        self,
        data: bytes | bytearray | memoryview,
        host_ns: int | None = None,
        decoded: p.Frame | None = None,
    ) -> TrackedFrame | None:
        """The frame if it is new; None (and counted) if it is malformed, a duplicate or
        quarantined. ``host_ns``: when it was received (host clock), for the jump checks;
        ``decoded``: ``data`` decoded already (frames are immutable; None: decode here)."""
        counts = self.counts
        try:
            frame = p.decode_frame(data) if decoded is None else decoded
        except p.MalformedFrameError:
            counts.malformed_frames += 1
            self._malformed_since_good += 1  # its seq shows up as a gap: not a loss
            return None
        trial = self._unwrap.copy()
        device_us = trial.unwrap(frame.t_us)
        last_host, hwm = self._last_host_ns, self.hwm_us
        if (
            host_ns is not None
            and last_host is not None
            and hwm is not None
            and host_ns > last_host
        ):
            # received after the newest frame: its device time must not run far ahead
            elapsed_us = (host_ns - last_host) // 1000
            last_us = device_us + (frame.n - 1) * frame.dt_us
            allowed_us = elapsed_us + elapsed_us * JUMP_PPM // 1_000_000 + JUMP_SLACK_US
            jumped = last_us - hwm > allowed_us or last_us <= hwm
            if jumped and frame.t_us < REBOOT_WINDOW_US:
                # the tool restarted: its clock goes on from where the host clock says
                counts.reboots += 1
                place_us = max(hwm + elapsed_us, hwm + frame.dt_us * frame.n)
                device_us = place_us - (frame.n - 1) * frame.dt_us
                trial = p.DeviceClockUnwrapper.rebased(frame.t_us, device_us)
                self._last_seq = None  # seq restarted too: no loss to count across it
            elif jumped:  # far ahead, or back before frames already taken: a glitch
                counts.quarantined_frames += 1
                return None
        self._unwrap = trial
        if self.hwm_us is not None and device_us <= self.hwm_us:
            counts.duplicate_frames += 1
            return None
        if self._last_seq is not None:
            lost = p.frames_lost(self._last_seq, frame.seq) - self._malformed_since_good
            counts.lost_frames += max(lost, 0)
        self._last_seq, self._malformed_since_good = frame.seq, 0
        if host_ns is not None and (self._last_host_ns is None or host_ns > self._last_host_ns):
            self._last_host_ns = host_ns
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
