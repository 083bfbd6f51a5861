"""What a live view shows of the newest samples, kept on the event loop as messages arrive.

The store thread writes, analyses and flushes in groups; a live view must not wait for that.
So the ingest route hands every batch to the session's :class:`LiveFeed` too, on the event
loop, before queueing it for the store: the feed decodes the frames (with its own
:class:`~strigil.ingest.frames.FrameTracker`, so resends are not drawn twice), maps device
time to session time with the session's anchor, and keeps the newest force, the force of the
last 0.1 s and a 10-s trace thinned to about 50 points per second. The figures that need the
analysis (strokes, rate, share in band) come from the store thread after each group
(:meth:`LiveFeed.set_figures`); a view's message is those figures with the feed's newest
samples on top.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from strigil.ingest import protocol as p
from strigil.ingest.frames import FrameTracker
from strigil.signal.scoring import band_status

if TYPE_CHECKING:
    from strigil.api.live.session import LiveSession

TRACE_WINDOW_S: Final = 10.0
"""How much trace a new viewer gets at once (the live view's window)."""
TRACE_POINTS_PER_S: Final = 50
SMOOTHING_S: Final = 0.1
"""The big readout shows the mean force of this last stretch."""
FIGURES_RIDE_S: Final = 0.04
"""New figures wait this long for the next frame to carry them (two frames at 200 Hz), so
viewers get one message per frame rather than two; then they go on their own."""


class LiveFeed:
    """The newest samples of one session, for its viewers. Event loop only."""

    def __init__(self, live: LiveSession, on_change: Callable[[], None] = lambda: None) -> None:
        self._live = live
        self._on_change = on_change
        self._frames = FrameTracker(live.durable_hwm_us)
        self._anchor_us = live.anchor_device_us
        self.version = 0
        """+1 for every change a viewer should see."""
        self.trace: deque[tuple[int, float, float]] = deque()
        """(version, session time s, force N) of the thinned trace, the last 10 s."""
        self._recent: deque[tuple[float, float]] = deque()
        """(session time s, force N) of every sample of the last 0.1 s."""
        self.t_s: float | None = None
        self.force_n: float | None = None
        self.host_ns: int | None = None
        self.battery_low = False
        self.figures: dict[str, object] = {}
        """The store thread's latest snapshot of the session (strokes, rates, targets, …)."""

    def take(
        self, records: list[tuple[int, bytes]], decoded: list[p.Frame | None] | None = None
    ) -> bool:
        """Frames as they arrived (host ns, bytes), and each decoded if the caller did (None
        for one that is malformed); True if any sample was new."""
        started_ns = self._live.started_ns
        changed = False
        for i, (host_ns, data) in enumerate(records):
            if host_ns < started_ns:
                continue  # before the session: not its data
            frame = None if decoded is None else decoded[i]
            if decoded is not None and frame is None:
                continue  # malformed: counted where the batch is stored
            tracked = self._frames.track(data, host_ns, frame)
            if tracked is None:
                continue
            frame = tracked.frame
            if self._anchor_us is None:
                anchor = self._live.anchor_device_us
                self._anchor_us = tracked.device_us if anchor is None else anchor
            self._add(tracked.device_us - self._anchor_us, frame)
            self.host_ns = host_ns
            self.battery_low = frame.flags in p.BATTERY_LOW_FLAGS
            changed = True
        if changed:
            self.version += 1
        return changed

    def _add(self, rel_us: int, frame: p.Frame) -> None:
        dt_us = frame.dt_us
        step = max(round(1e6 / dt_us / TRACE_POINTS_PER_S), 1)
        forces = frame.force_n.tolist()
        n = len(forces)
        times_s = [(rel_us + i * dt_us) / 1e6 for i in range(n)]
        self._recent.extend(zip(times_s, forces, strict=True))
        version = self.version + 1
        for i in range(-round(rel_us / dt_us) % step, n, step):  # every step-th sample
            self.trace.append((version, round(times_s[i], 3), round(forces[i], 2)))
        self.t_s = times_s[-1]
        self.force_n = forces[-1]
        while self._recent and self._recent[0][0] <= self.t_s - SMOOTHING_S:
            self._recent.popleft()
        while self.trace and self.trace[0][1] < self.t_s - TRACE_WINDOW_S:
            self.trace.popleft()

    def set_figures(self, figures: dict[str, object]) -> None:
        """The store thread's newest figures: sent with the next frame, or alone after
        FIGURES_RIDE_S if no frame comes (the end of a stream, or the first figures)."""
        first = not self.figures
        self.figures = figures
        if first:
            self._bump()
            return
        asyncio.get_running_loop().call_later(FIGURES_RIDE_S, self._bump_unless, self.version)

    def _bump_unless(self, version: int) -> None:
        """Bump, unless a frame has (and so carried the figures) since ``version``."""
        if self.version == version:
            self._bump()

    def _bump(self) -> None:
        self.version += 1
        self._on_change()

    def message(self, seen_version: int, now_ns: int) -> dict[str, object]:
        """The live state for a viewer that has seen up to ``seen_version``: the figures, the
        newest samples, and the trace points it has not had (all 10 s for a new viewer)."""
        state = dict(self.figures)
        state.setdefault("type", "live")
        state.setdefault("session_id", self._live.id)
        if self.t_s is not None:
            recent = [f for _, f in self._recent]
            smoothed = sum(recent) / len(recent) if recent else self.force_n
            band = state.get("force_band_n")
            state.update(
                t_s=self.t_s,
                force_n=self.force_n,
                smoothed_force_n=smoothed,
                battery_low=self.battery_low,
                sample_host_ns=self.host_ns,
                last_sample_age_s=None
                if self.host_ns is None
                else round((now_ns - self.host_ns) / 1e9, 3),
            )
            if isinstance(band, list) and smoothed is not None:
                state["force_status"] = band_status(smoothed, (band[0], band[1]))
        new = self._trace_since(seen_version)
        state["trace_t_s"] = [t for _, t, _ in new]
        state["trace_force_n"] = [f for _, _, f in new]
        return state

    def _trace_since(self, seen_version: int) -> list[tuple[int, float, float]]:
        """The trace points newer than ``seen_version``, oldest first. Versions only grow
        along the trace, so this walks back from the newest point and stops at the first one
        the viewer has had: a live viewer costs the few new points, not the whole 10 s."""
        new: list[tuple[int, float, float]] = []
        for point in reversed(self.trace):
            if point[0] <= seen_version:
                break
            new.append(point)
        new.reverse()
        return new
