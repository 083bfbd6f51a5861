"""One active session inside the API: its frames, analysis and live state.

Times. A session's time zero is its first sample: ``anchor_ns`` on the wall clock (the host
receive time of the first frame, less the frame's length) and ``anchor_device_us`` on the
tool's unwrapped clock. Sample and stroke times are device time since then — exact spacing,
one mapping for samples and strokes, the same on every replay. The device→host clock fit is
kept with the session for anyone who needs wall-clock time to the millisecond.

Resent frames (after an outage or a restart) are recognised by device time (the session's
:class:`~strigil.ingest.frames.FrameTracker`): a frame at or before the newest sample taken
is a duplicate, counted and dropped. After an API restart the mark may lag the last second;
frames resent from that second are written again to the same times (points are keyed by
time), so they are still stored once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from strigil.ingest import protocol as p
from strigil.ingest.clock import ClockModel
from strigil.ingest.frames import FrameCounts, FrameTracker
from strigil.signal.analyzer import StrokeAnalyzer
from strigil.signal.patterns import pattern_counts
from strigil.signal.scoring import ProtocolTargets, band_status
from strigil.signal.settings import AnalysisSettings
from strigil.signal.strokes import Stroke, Summary, summarize
from strigil.store.models import TreatmentSession, as_utc
from strigil.store.timeseries import TimeSeriesStore

LIVE_WINDOW_S = 30.0
"""The live stroke rate counts the strokes of the last this many seconds."""


@dataclass
class LiveState:
    """The session's newest state as of its latest analysed group (the trace and the newest
    samples a viewer gets come from the event loop's :class:`~strigil.api.live.feed.LiveFeed`)."""

    force_n: float | None = None
    """The latest sample (raw, N)."""
    t_s: float = 0.0
    """Session time of the latest sample, s."""
    host_ns: int | None = None
    """Wall-clock ns at which the latest frame reached the ingester."""
    received_monotonic: float | None = None
    """When (this process's monotonic clock) the latest frame reached the API."""
    battery_low: bool = False
    smoothed_force_n: float | None = None
    """Mean of the last 0.1 s, N: what the big readout shows."""
    area: str | None = None
    area_started_ns: int | None = None


class LiveSession:
    """One active session's ingest and analysis state. Only the store thread touches it."""

    def __init__(self, row: TreatmentSession, serial: str, prior_strokes: Sequence[Stroke]) -> None:
        self.id = row.id
        self.clinic_id = row.clinic_id
        self.serial = serial
        self.started_ns = int(as_utc(row.started_at).timestamp() * 1e9)
        self.anchor_ns = row.anchor_ns
        self.anchor_device_us = row.anchor_device_us
        self.durable_hwm_us = row.device_hwm_us
        """Device time of the last sample known durable: the duplicate line."""
        self.hwm_us = row.device_hwm_us
        """Device time of the last sample written (durable once the group is committed)."""
        self.analyzed_hwm_us = row.device_hwm_us
        self.frames = FrameTracker(
            row.device_hwm_us,
            counts=FrameCounts(
                lost_frames=row.lost_frames,
                malformed_frames=row.malformed_frames,
                duplicate_frames=row.duplicate_frames,
            ),
        )
        """Decodes and deduplicates; its mark is the newest sample staged."""
        self.staged: list[tuple[int, p.Frame]] = []
        """(device µs of the first sample since the anchor, frame) taken for the next write."""
        self._staged_arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        """:attr:`staged` as (µs since the anchor, force, acc, gyr), built once a group."""
        self.targets = ProtocolTargets()
        self.rate_hz = row.rate_hz
        self.contact_area_mm2: float | None = None
        self.prior_strokes = list(prior_strokes)
        """Strokes found before this process took the session over (an API restart)."""
        self.prior_pending = False
        """The store could not be read when the session was taken over: its earlier strokes
        are read as soon as it can be (:meth:`take_prior`)."""
        self.resume_t_s: float | None = None
        """Session time this process's analysis starts from (strokes before it are prior)."""
        self._strokes = list(self.prior_strokes)
        self._tallied = self._in_band = self._over = 0
        self._patterns = pattern_counts(())
        self.analyzer: StrokeAnalyzer | None = None
        self.clock = ClockModel()
        self.clock_json: dict[str, Any] | None = row.clock_model
        self.samples = row.samples
        self.lost_samples_before = row.lost_samples
        self.dirty = False
        self.anchor_unsaved = False
        """The anchor fixes every stored time: it is committed before the first ack."""
        self.begun = row.anchor_ns is not None
        self.rolled_ns = self.anchor_ns or 0
        self.live = LiveState()

    @property
    def lost_frames(self) -> int:
        return self.frames.counts.lost_frames

    @property
    def malformed_frames(self) -> int:
        return self.frames.counts.malformed_frames

    @property
    def duplicate_frames(self) -> int:
        return self.frames.counts.duplicate_frames

    # --- frames --------------------------------------------------------------------------

    def _analyzer(self, rate_hz: float) -> StrokeAnalyzer:
        if self.analyzer is None:
            self.analyzer = StrokeAnalyzer(rate_hz=rate_hz, contact_area_mm2=self.contact_area_mm2)
        return self.analyzer

    def stage(
        self,
        store: TimeSeriesStore,
        records: Sequence[tuple[int, bytes]],
        decoded: Sequence[p.Frame | None] | None = None,
    ) -> tuple[int, int]:
        """Decode (unless ``decoded`` has them: None for a frame that did not decode) and
        deduplicate a batch; its new samples wait in :attr:`staged` for the group's one
        write. Returns (duplicates, malformed)."""
        counts = self.frames.counts
        dup_before, bad_before = counts.duplicate_frames, counts.malformed_frames
        frames = [None] * len(records) if decoded is None else decoded
        for (host_ns, data), known in zip(records, frames, strict=True):
            tracked = self.frames.track(data, host_ns, known)
            if tracked is None:
                continue
            frame, device_us = tracked.frame, tracked.device_us
            if self.rate_hz is None:
                self.rate_hz = round(1e6 / frame.dt_us)
            if self.anchor_ns is None or self.anchor_device_us is None:
                self.anchor_device_us = device_us
                self.anchor_ns = host_ns - (frame.n - 1) * frame.dt_us * 1000
                self.rolled_ns = self.anchor_ns
                self.anchor_unsaved = True
            self.staged.append((device_us - self.anchor_device_us, frame))
            self._staged_arrays = None
            # the frame left when its last sample was taken: that sample's device time is the
            # one its receive time follows (the first sample's would add the frame's length)
            self.clock.add(
                (device_us + (frame.n - 1) * frame.dt_us - self.anchor_device_us) / 1e6,
                (host_ns - self.anchor_ns) / 1e9,
            )
            self.live.host_ns = host_ns
            self.live.received_monotonic = time.monotonic()
            self.live.battery_low = frame.flags in p.BATTERY_LOW_FLAGS
        dup = counts.duplicate_frames - dup_before
        bad = counts.malformed_frames - bad_before
        self.dirty = self.dirty or bool(bad or dup)
        if self.staged and not self.begun and self.anchor_ns is not None:
            store.begin_session(self.id, tool=self.serial, start_ns=self.anchor_ns)
            self.begun = True
        return dup, bad

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(µs since the anchor, force_n, acc_g, gyr_dps) of everything staged, in one
        numpy pass for the whole group rather than a few calls a frame."""
        if self._staged_arrays is None:
            staged = self.staged
            firsts = np.fromiter((rel for rel, _ in staged), np.int64, len(staged))
            counts = np.fromiter((f.force_n.shape[0] for _, f in staged), np.int64, len(staged))
            steps = np.fromiter((f.dt_us for _, f in staged), np.int64, len(staged))
            within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            self._staged_arrays = (
                np.repeat(firsts, counts) + within * np.repeat(steps, counts),
                np.concatenate([f.force_n for _, f in staged]),
                np.concatenate([f.acc_g for _, f in staged]),
                np.concatenate([f.gyr_dps for _, f in staged]),
            )
        return self._staged_arrays

    def staged_block(self) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(session, t_ns, force_n, acc_g, gyr_dps) of everything staged."""
        rel, force, acc, gyr = self._arrays()
        return (self.id, (self.anchor_ns or 0) + rel * 1000, force, acc, gyr)

    def commit_staged(self, store: TimeSeriesStore) -> None:
        """The staged samples are written: advance the mark, analyse them, store strokes."""
        rel, force, acc, gyr = self._arrays()
        self._staged_arrays = None
        self.staged = []
        self.hwm_us = self.frames.hwm_us
        self.samples += rel.size
        self.dirty = True
        fresh = slice(None)
        if self.analyzed_hwm_us is not None:  # resent after a failed flush: stored, not re-fed
            done_us = self.analyzed_hwm_us - (self.anchor_device_us or 0)
            if rel[0] <= done_us:
                fresh = slice(int(np.searchsorted(rel, done_us, side="right")), None)
        t_s = rel / 1e6
        if t_s[fresh].size:
            analyzer = self._analyzer(self.rate_hz or 200)
            strokes = analyzer.feed(t_s[fresh], force[fresh], acc[fresh], gyr[fresh])
            if strokes:
                store.write_strokes(self.id, strokes)
            self.analyzed_hwm_us = self.hwm_us
        self.live.force_n = float(force[-1])
        self.live.t_s = float(t_s[-1])
        tail = max(round((self.rate_hz or 200) * 0.1), 1)
        self.live.smoothed_force_n = float(np.mean(force[-tail:]))

    def rollback(self) -> None:
        """The group was not made durable: resent frames must be stored again."""
        self.staged = []
        self._staged_arrays = None
        self.hwm_us = self.durable_hwm_us
        self.frames.rewind(self.durable_hwm_us)

    # --- results -------------------------------------------------------------------------

    def snapshot(self, now_ns: int) -> dict[str, object]:
        """The live view's state (docs/api.md, "Live view"): force against the band, strokes,
        rate over the last 30 s, session and area time against their targets, link quality."""
        tg = self.targets
        strokes = self._tally()
        recent = 0
        for k in reversed(strokes):  # strokes come in time order: only the last 30 s are read
            if k.start_s < self.live.t_s - LIVE_WINDOW_S:
                break
            recent += 1
        force = self.live.smoothed_force_n
        live = self.live
        return {
            "type": "live",
            "session_id": self.id,
            "t_s": live.t_s,
            "analysed_t_s": live.t_s,
            "force_n": live.force_n,
            "smoothed_force_n": force,
            "force_band_n": list(tg.force_band_n),
            "force_status": None if force is None else band_status(force, tg.force_band_n),
            "stroke_count": len(strokes),
            "stroke_rate_per_min_30s": recent * 60.0 / LIVE_WINDOW_S,
            "rate_band_per_min": list(tg.rate_band_per_min),
            "pct_strokes_in_force_band": None
            if not strokes
            else round(self._in_band / len(strokes) * 100, 1),
            "over_force_strokes": self._over,
            "last_stroke_pattern": strokes[-1].pattern if strokes else None,
            "last_stroke_turn_deg": None
            if not strokes or strokes[-1].turn_deg is None
            else round(strokes[-1].turn_deg, 1),
            "pattern_counts": dict(self._patterns),
            "session_elapsed_s": round((now_ns - self.started_ns) / 1e9, 1),
            "session_band_min": list(tg.session_length_band_min),
            "area": live.area,
            "area_elapsed_s": None
            if live.area_started_ns is None
            else round((now_ns - live.area_started_ns) / 1e9, 1),
            "area_band_s": list(tg.treatment_time_band_s),
            "lost_frames": self.lost_frames,
            "malformed_frames": self.malformed_frames,
            "quarantined_frames": self.frames.counts.quarantined_frames,
            "tool_restarts": self.frames.counts.reboots,
            "battery_low": live.battery_low,
            "sample_host_ns": live.host_ns,
            "last_sample_age_s": None
            if live.host_ns is None
            else round((now_ns - live.host_ns) / 1e9, 3),
        }

    def _tally(self) -> list[Stroke]:
        """Every stroke so far, with the in-band and over-force counts brought up to date by
        looking at the new strokes only (a snapshot must not cost O(strokes): it is taken
        several times a second for every watched session, for 45 minutes)."""
        strokes = self.strokes
        low, high = self.targets.force_band_n
        for k in strokes[self._tallied :]:
            self._in_band += low <= k.peak_force_n <= high
            self._over += k.peak_force_n > high
            self._patterns[k.pattern] += 1
        self._tallied = len(strokes)
        return strokes

    def take_prior(self, stored: Sequence[Stroke]) -> None:
        """The strokes found before the takeover, read late (the store was away at it): those
        of ``stored`` that started before this process's analysis did."""
        cut = math.inf if self.resume_t_s is None else self.resume_t_s
        self.prior_strokes = sorted((k for k in stored if k.start_s < cut), key=lambda k: k.start_s)
        mine = [] if self.analyzer is None else self.analyzer.strokes
        self._strokes = [*self.prior_strokes, *mine]
        self._tallied = self._in_band = self._over = 0
        self._patterns = pattern_counts(())
        self.prior_pending = False

    @property
    def strokes(self) -> list[Stroke]:
        """Strokes found before a restart, then this process's (one list, extended in place)."""
        mine = [] if self.analyzer is None else self.analyzer.strokes
        if len(self._strokes) != len(self.prior_strokes) + len(mine):
            self._strokes.extend(mine[len(self._strokes) - len(self.prior_strokes) :])
        return self._strokes

    def summary(self) -> Summary:
        a = self.analyzer
        duration = 0.0
        if self.hwm_us is not None and self.anchor_device_us is not None:
            duration = (self.hwm_us - self.anchor_device_us) / 1e6
        return summarize(
            self.strokes,
            session_duration_s=duration,
            lost_samples=self.lost_samples_before + (a.lost_samples if a else 0),
            incomplete_strokes=a.incomplete_strokes if a else 0,
            bout_gap_s=AnalysisSettings().bout_gap_s,
            blind_spans_s=a.blind_spans_s if a else [],
        )

    def persist(self, row: TreatmentSession) -> None:
        row.anchor_ns = self.anchor_ns
        row.rate_hz = self.rate_hz
        row.anchor_device_us = self.anchor_device_us
        row.device_hwm_us = self.hwm_us
        row.samples = self.samples
        row.lost_frames = self.lost_frames
        row.lost_samples = self.lost_samples_before + (
            self.analyzer.lost_samples if self.analyzer else 0
        )
        row.malformed_frames = self.malformed_frames
        row.duplicate_frames = self.duplicate_frames
        fit = self.clock.fit()
        if fit is not None and self.anchor_ns is not None:
            self.clock_json = fit.to_json() | {
                "anchor_ns": self.anchor_ns,
                "anchor_device_us": self.anchor_device_us,
            }
        row.clock_model = self.clock_json
        self.dirty = self.anchor_unsaved = False
