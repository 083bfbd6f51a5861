"""Live sessions inside the API: frames in; samples, strokes and summaries out.

One :class:`LiveHub` per API process owns the time-series store and runs everything that
touches it, or a session's analysis state, on one thread ("the store thread"); the event loop
only parses messages and moves bytes. Batches from every ingest connection are taken in
groups: each batch of a group is decoded, deduplicated, written and analysed, then the store is
flushed once (samples durable: in the store or in its on-disk queue), a new session's time
anchor is committed to the metadata database, and only then is every batch of the group
acknowledged. The more connections, the larger the groups: one flush serves them all. The
sessions' high-water marks and counters are committed at most once a second.

Times. A session's time zero is its first sample: ``anchor_ns`` on the wall clock (the host
receive time of the first frame, less the frame's length) and ``anchor_device_us`` on the
tool's unwrapped clock. Sample and stroke times are device time since then — exact spacing,
one mapping for samples and strokes, the same on every replay. The device→host clock fit is
kept with the session for anyone who needs wall-clock time to the millisecond.

Resent frames (after an outage or a restart) are recognised by device time: a frame at or
before the session's high-water mark is a duplicate, counted and dropped. After an API
restart the mark may lag the last second; frames resent from that second are written again
to the same times (points are keyed by time), so they are still stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strigil.ingest import protocol as p
from strigil.ingest.clock import ClockModel
from strigil.signal.analyzer import StrokeAnalyzer
from strigil.signal.scoring import ProtocolScore, ProtocolTargets, band_status, score_session
from strigil.signal.settings import AnalysisSettings
from strigil.signal.strokes import Stroke, Summary, summarize
from strigil.store.clinics import drill_targets, protocol_targets
from strigil.store.models import Drill, Protocol, SessionStatus, Tool, TreatmentSession
from strigil.store.timeseries import StoreUnavailableError, TimeSeriesError, TimeSeriesStore

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")
ROLLUPS_PER_GROUP = 4
FELL_BEHIND = 1013
"""Close code for a viewer whose queue filled (try again later: it may reconnect)."""
SESSION_ENDED = 1000
SERVER_RESTART = 1012
ViewerQueue = asyncio.Queue[dict[str, object] | int]
"""Live states for one viewer, ended by the WebSocket close code to send."""
ROLLUP_EVERY_NS = 60 * 10**9
"""Roll force up per second while a session runs, once this much new data is stored."""
LIVE_WINDOW_S = 30.0
PERSIST_EVERY_S = 1.0


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What became of one ingest batch; sent back as its acknowledgement."""

    frames: int
    stored: int
    duplicates: int
    malformed: int
    unassigned: int
    """Frames that arrived while the tool had no active session (kept for nobody)."""
    session_id: str | None

    def ack(self, batch_id: int) -> dict[str, object]:
        return {
            "type": "ack",
            "batch": batch_id,
            "frames": self.frames,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "malformed": self.malformed,
            "unassigned": self.unassigned,
            "session_id": self.session_id,
        }


@dataclass
class LiveState:
    """What a live view shows of one session, updated with every batch."""

    force_n: float | None = None
    """The latest sample (raw, N)."""
    t_s: float = 0.0
    """Session time of the latest sample, s."""
    host_ns: int | None = None
    """Wall-clock ns at which the latest frame reached the ingester."""
    battery_low: bool = False
    smoothed_force_n: float | None = None
    """Mean of the last 0.1 s, N: what the big readout shows."""
    new_t_s: list[float] = field(default_factory=list)
    new_force_n: list[float] = field(default_factory=list)
    """Samples since the last update, thinned to about 50 per second, for the live trace."""
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
        self.staged_hwm_us = row.device_hwm_us
        self.staged: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.targets = ProtocolTargets()
        self.unwrap = (
            p.DeviceClockUnwrapper()
            if row.device_hwm_us is None
            else p.DeviceClockUnwrapper.resuming_at(row.device_hwm_us)
        )
        self.rate_hz = row.rate_hz
        self.contact_area_mm2: float | None = None
        self.prior_strokes = list(prior_strokes)
        """Strokes found before this process took the session over (an API restart)."""
        self._strokes = list(self.prior_strokes)
        self._tallied = self._in_band = self._over = 0
        self.analyzer: StrokeAnalyzer | None = None
        self.clock = ClockModel()
        self.clock_json: dict[str, Any] | None = row.clock_model
        self.samples = row.samples
        self.lost_frames = row.lost_frames
        self.lost_samples_before = row.lost_samples
        self.malformed = row.malformed_frames
        self.duplicates = row.duplicate_frames
        self.dirty = False
        self.anchor_unsaved = False
        """The anchor fixes every stored time: it is committed before the first ack."""
        self.begun = row.anchor_ns is not None
        self.rolled_ns = self.anchor_ns or 0
        self._last_seq: int | None = None
        self._malformed_since_good = 0
        self.live = LiveState()

    # --- frames --------------------------------------------------------------------------

    def _analyzer(self, rate_hz: float) -> StrokeAnalyzer:
        if self.analyzer is None:
            self.analyzer = StrokeAnalyzer(rate_hz=rate_hz, contact_area_mm2=self.contact_area_mm2)
        return self.analyzer

    def stage(
        self, store: TimeSeriesStore, records: Sequence[tuple[int, bytes]]
    ) -> tuple[int, int]:
        """Decode and deduplicate a batch; its new samples wait in :attr:`staged` for the
        group's one write. Returns (duplicates, malformed)."""
        dup = bad = 0
        hwm = self.staged_hwm_us
        for host_ns, data in records:
            try:
                frame = p.decode_frame(data)
            except p.MalformedFrameError:
                bad += 1
                self._malformed_since_good += 1
                continue
            device_us = self.unwrap.unwrap(frame.t_us)
            if hwm is not None and device_us <= hwm:
                dup += 1
                continue
            if self._last_seq is not None:
                lost = p.frames_lost(self._last_seq, frame.seq) - self._malformed_since_good
                self.lost_frames += max(lost, 0)
            self._last_seq, self._malformed_since_good = frame.seq, 0
            if self.rate_hz is None:
                self.rate_hz = round(1e6 / frame.dt_us)
            if self.anchor_ns is None or self.anchor_device_us is None:
                self.anchor_device_us = device_us
                self.anchor_ns = host_ns - (frame.n - 1) * frame.dt_us * 1000
                self.rolled_ns = self.anchor_ns
                self.anchor_unsaved = True
            rel_us = device_us - self.anchor_device_us + np.arange(frame.n) * frame.dt_us
            self.staged.append((rel_us, frame.force_n, frame.acc_g, frame.gyr_dps))
            hwm = device_us + (frame.n - 1) * frame.dt_us
            self.clock.add(
                (device_us - self.anchor_device_us) / 1e6, (host_ns - self.anchor_ns) / 1e9
            )
            self.live.host_ns = host_ns
            self.live.battery_low = bool(frame.flags & p.FrameFlags.BATTERY_LOW)
        self.staged_hwm_us = hwm
        self.malformed += bad
        self.duplicates += dup
        self.dirty = self.dirty or bool(bad or dup)
        if self.staged and not self.begun and self.anchor_ns is not None:
            store.begin_session(self.id, tool=self.serial, start_ns=self.anchor_ns)
            self.begun = True
        return dup, bad

    def staged_block(self) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(session, t_ns, force_n, acc_g, gyr_dps) of everything staged."""
        rel = np.concatenate([x[0] for x in self.staged])
        return (
            self.id,
            (self.anchor_ns or 0) + rel * 1000,
            np.concatenate([x[1] for x in self.staged]),
            np.concatenate([x[2] for x in self.staged]),
            np.concatenate([x[3] for x in self.staged]),
        )

    def commit_staged(self, store: TimeSeriesStore) -> None:
        """The staged samples are written: advance the mark, analyse them, store strokes."""
        rel = np.concatenate([x[0] for x in self.staged])
        force = np.concatenate([x[1] for x in self.staged])
        acc = np.concatenate([x[2] for x in self.staged])
        self.staged = []
        self.hwm_us = self.staged_hwm_us
        self.samples += rel.size
        self.dirty = True
        fresh = slice(None)
        if self.analyzed_hwm_us is not None:  # resent after a failed flush: stored, not re-fed
            done_us = self.analyzed_hwm_us - (self.anchor_device_us or 0)
            fresh = slice(int(np.searchsorted(rel, done_us, side="right")), None)
        t_s = rel / 1e6
        if t_s[fresh].size:
            analyzer = self._analyzer(self.rate_hz or 200)
            strokes = analyzer.feed(t_s[fresh], force[fresh], acc[fresh])
            if strokes:
                store.write_strokes(self.id, strokes)
            self.analyzed_hwm_us = self.hwm_us
        self.live.force_n = float(force[-1])
        self.live.t_s = float(t_s[-1])
        tail = max(round((self.rate_hz or 200) * 0.1), 1)
        self.live.smoothed_force_n = float(np.mean(force[-tail:]))
        step = max(round((self.rate_hz or 200) / 50), 1)
        self.live.new_t_s = np.round(t_s[::step], 3).tolist()
        self.live.new_force_n = np.round(force[::step], 2).tolist()

    def rollback(self) -> None:
        """The group was not made durable: resent frames must be stored again."""
        self.staged = []
        self.hwm_us = self.staged_hwm_us = self.durable_hwm_us
        if self.hwm_us is not None:
            self.unwrap = p.DeviceClockUnwrapper.resuming_at(self.hwm_us)

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
            "session_elapsed_s": round((now_ns - self.started_ns) / 1e9, 1),
            "session_band_min": list(tg.session_length_band_min),
            "area": live.area,
            "area_elapsed_s": None
            if live.area_started_ns is None
            else round((now_ns - live.area_started_ns) / 1e9, 1),
            "area_band_s": list(tg.treatment_time_band_s),
            "lost_frames": self.lost_frames,
            "malformed_frames": self.malformed,
            "battery_low": live.battery_low,
            "sample_host_ns": live.host_ns,
            "last_sample_age_s": None
            if live.host_ns is None
            else round((now_ns - live.host_ns) / 1e9, 3),
            "trace_t_s": live.new_t_s,
            "trace_force_n": live.new_force_n,
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
        self._tallied = len(strokes)
        return strokes

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
        row.malformed_frames = self.malformed
        row.duplicate_frames = self.duplicates
        fit = self.clock.fit()
        if fit is not None and self.anchor_ns is not None:
            self.clock_json = fit.to_json() | {
                "anchor_ns": self.anchor_ns,
                "anchor_device_us": self.anchor_device_us,
            }
        row.clock_model = self.clock_json
        self.dirty = self.anchor_unsaved = False


@dataclass
class _Pending:
    clinic_id: str
    serial: str
    records: list[tuple[int, bytes]]
    future: asyncio.Future[BatchOutcome]


@dataclass(frozen=True, slots=True)
class StopResult:
    summary: Summary
    score: ProtocolScore


class LiveHub:
    """The live sessions of one API process (see the module docstring)."""

    def __init__(
        self,
        open_store: Callable[[], TimeSeriesStore],
        database: sessionmaker[Session],
    ) -> None:
        self._open_store = open_store
        self._database = database
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._store: TimeSeriesStore | None = None
        self._sessions: dict[str, LiveSession] = {}
        self._by_tool: dict[tuple[str, str], str] = {}
        self._inbox: asyncio.Queue[_Pending] = asyncio.Queue()
        self._committer: asyncio.Task[None] | None = None
        self.channels: dict[tuple[str, str], Callable[[dict[str, object]], Any]] = {}
        self.watchers: dict[str, set[ViewerQueue]] = {}
        """Live-view subscribers per session, each behind its own bounded queue."""
        """Connected ingesters per (clinic, serial): a coroutine function sending them JSON."""
        self._persisted_at = 0.0
        self.dropped_viewers = 0

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.call(self._open)
        self._committer = asyncio.create_task(self._commit_loop())

    def _open(self, _store: TimeSeriesStore | None) -> None:
        self._store = self._open_store()
        with self._database() as db:
            active = db.scalars(
                select(TreatmentSession).where(TreatmentSession.status == SessionStatus.ACTIVE)
            ).all()
            for row in active:
                self._activate(db, row)

    async def close(self) -> None:
        for sid in list(self.watchers):
            self.end_viewers(sid, SERVER_RESTART)
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close_store)
        self._thread.shutdown()

    def _close_store(self) -> None:
        if self._store is not None:
            self._persist_all()
            self._store.close()

    async def call(self, fn: Callable[[TimeSeriesStore], T]) -> T:
        """Run ``fn(store)`` on the store thread."""

        def run() -> T:
            return fn(self._store)  # type: ignore[arg-type]

        return await asyncio.get_running_loop().run_in_executor(self._thread, run)

    # --- sessions (store thread) ---------------------------------------------------------

    def _activate(self, db: Session, row: TreatmentSession) -> LiveSession:
        tool = db.get(Tool, row.tool_id) if row.tool_id else None
        serial = tool.serial if tool is not None else f"session-{row.id}"
        prior: list[Stroke] = []
        if row.anchor_ns is not None and self._store is not None:
            prior = self._store.read_strokes(row.id)
            self._catch_up(self._store, row)
            durable_s = (
                None
                if row.device_hwm_us is None or row.anchor_device_us is None
                else round((row.device_hwm_us - row.anchor_device_us) / 1e6, 3)
            )
            row.interruptions = [
                *(row.interruptions or []),
                {
                    "kind": "api_restart",
                    "at": dt.datetime.now(dt.UTC).isoformat(),
                    "t_s": durable_s,
                },
            ]
            db.commit()
            _LOGGER.warning("session %s resumed after a restart at t=%s s", row.id, durable_s)
        live = LiveSession(row, serial, prior)
        live.contact_area_mm2 = tool.contact_area_mm2 if tool is not None else None
        protocol = db.get(Protocol, row.protocol_id) if row.protocol_id else None
        if protocol is not None:
            live.targets = protocol_targets(protocol)
        drill = db.scalars(select(Drill).where(Drill.session_id == row.id)).first()
        if drill is not None:
            live.targets = drill_targets(drill, live.targets)
        for segment in row.segments:
            if segment.ended_at is None:
                live.live.area = segment.area
                live.live.area_started_ns = int(as_utc(segment.started_at).timestamp() * 1e9)
        self._sessions[row.id] = live
        self._by_tool[(row.clinic_id, serial)] = row.id
        return live

    @staticmethod
    def _catch_up(store: TimeSeriesStore, row: TreatmentSession) -> None:
        """After a restart: the committed mark may lag what the store holds by up to a
        second; take the mark and the sample count from the store itself."""
        anchor_ns, anchor_us = row.anchor_ns, row.anchor_device_us
        if anchor_ns is None or anchor_us is None:
            return
        after_ns = (
            anchor_ns
            if row.device_hwm_us is None
            else (anchor_ns + (row.device_hwm_us - anchor_us) * 1000 + 1)
        )
        try:
            newer = store.read_samples(row.id, start_ns=after_ns)
        except KeyError:
            return  # nothing stored yet
        if len(newer):
            row.device_hwm_us = anchor_us + (int(newer.t_ns[-1]) - anchor_ns) // 1000
            row.samples += len(newer)

    async def start_session(self, session_id: str) -> None:
        def run(_store: TimeSeriesStore) -> None:
            with self._database() as db:
                row = db.get(TreatmentSession, session_id)
                if row is not None:
                    self._activate(db, row)

        await self.call(run)

    def active_session_of(self, clinic_id: str, serial: str) -> str | None:
        return self._by_tool.get((clinic_id, serial))

    def live(self, session_id: str) -> LiveSession | None:
        return self._sessions.get(session_id)

    async def stop_session(
        self, session_id: str, targets: ProtocolTargets, body_areas: int
    ) -> StopResult:
        """Finish the analysis, store strokes, summary and roll-ups; the session stops taking
        frames. Works for a session this process never saw data for (summary of nothing)."""

        def run(store: TimeSeriesStore) -> StopResult:
            live = self._sessions.pop(session_id, None)
            if live is None:
                with self._database() as db:
                    row = db.get(TreatmentSession, session_id)
                    if row is None:
                        raise KeyError(session_id)
                    live = LiveSession(row, f"session-{row.id}", [])
            self._by_tool.pop((live.clinic_id, live.serial), None)
            if live.analyzer is not None:
                tail = live.analyzer.finish()
                if tail:
                    store.write_strokes(live.id, tail)
            summary = live.summary()
            score = score_session(live.strokes, summary, targets, body_areas=max(body_areas, 1))
            if not live.begun:
                store.begin_session(live.id, tool=live.serial, start_ns=live.started_ns)
                live.begun = True
            store.write_summary(live.id, summary.to_json())
            if live.anchor_ns is not None and live.hwm_us is not None:
                end_ns = live.anchor_ns + (live.hwm_us - (live.anchor_device_us or 0)) * 1000
                store.rollup(live.id, end_ns=end_ns + 1)
            store.flush()
            with self._database() as db:
                row = db.get(TreatmentSession, live.id)
                if row is not None:
                    live.persist(row)
                    db.commit()
            return StopResult(summary, score)

        return await self.call(run)

    # --- ingest --------------------------------------------------------------------------

    async def ingest(
        self, clinic_id: str, serial: str, records: list[tuple[int, bytes]]
    ) -> asyncio.Future[BatchOutcome]:
        """Queue a batch; the future resolves once it is durable (or raises)."""
        future: asyncio.Future[BatchOutcome] = asyncio.get_running_loop().create_future()
        await self._inbox.put(_Pending(clinic_id, serial, records, future))
        return future

    async def _commit_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            group = [await self._inbox.get()]
            while not self._inbox.empty():
                group.append(self._inbox.get_nowait())
            try:
                results = await loop.run_in_executor(self._thread, self._take_group, group)
            except Exception as exc:
                _LOGGER.exception("ingest group failed")
                results = [exc] * len(group)
            for item, result in zip(group, results, strict=True):
                if item.future.done():
                    continue
                if isinstance(result, BaseException):
                    item.future.set_exception(result)
                else:
                    item.future.set_result(result)

    def _take_group(self, group: list[_Pending]) -> list[BatchOutcome | Exception]:
        store = self._store
        if store is None:
            raise StoreUnavailableError("the live hub has not been started (LiveHub.start)")
        results: list[BatchOutcome | Exception] = []
        touched: set[str] = set()
        for item in group:
            try:
                results.append(self._take(store, item, touched))
            except Exception as exc:
                _LOGGER.warning("batch from %s refused: %s", item.serial, exc)
                results.append(exc)
        staged = [live for sid in touched if (live := self._sessions.get(sid)) and live.staged]
        try:
            store.write_sample_blocks([live.staged_block() for live in staged])
            for live in staged:
                live.commit_staged(store)
            self._publish_soon(touched)  # the view need not wait for the disk; the acks do
            store.flush()
            for sid in touched:
                if (live := self._sessions.get(sid)) is not None:
                    live.durable_hwm_us = live.hwm_us
            self._persist_all(force=False)
        except Exception as exc:
            _LOGGER.error("could not make ingest durable: %s", exc)
            for sid in touched:
                if (live := self._sessions.get(sid)) is not None:
                    live.rollback()
            self._publish_error(touched, exc)
            return [exc] * len(group)
        self._rollup_running(store, touched)
        return results

    def _publish_error(self, touched: set[str], exc: Exception) -> None:
        """Tell the live views why their data is not being stored: the ingester keeps it in
        its spool and sends it again, so nothing is lost, but the therapist should know."""
        detail = (
            f"samples are not being stored: {exc}. The ingester keeps them in its spool and "
            "resends them; nothing is lost while its spool has room."
        )
        message: dict[str, object] = {"type": "error", "detail": detail}
        errors = {sid: message for sid in touched if sid in self.watchers}
        if errors and self._loop is not None:
            self._loop.call_soon_threadsafe(self._publish, errors)

    def _publish_soon(self, touched: set[str]) -> None:
        """From the store thread: snapshot the watched sessions, hand them to the loop."""
        now = time.time_ns()
        snapshots = {
            sid: live.snapshot(now)
            for sid in touched
            if sid in self.watchers and (live := self._sessions.get(sid)) is not None
        }
        if snapshots and self._loop is not None:
            self._loop.call_soon_threadsafe(self._publish, snapshots)

    def _take(self, store: TimeSeriesStore, item: _Pending, touched: set[str]) -> BatchOutcome:
        sid = self._by_tool.get((item.clinic_id, item.serial))
        live = self._sessions.get(sid) if sid is not None else None
        if live is None:
            return BatchOutcome(len(item.records), 0, 0, 0, len(item.records), None)
        mine = [r for r in item.records if r[0] >= live.started_ns]
        dup, bad = live.stage(store, mine)
        touched.add(live.id)
        unassigned = len(item.records) - len(mine)
        return BatchOutcome(len(item.records), len(mine) - dup - bad, dup, bad, unassigned, live.id)

    def _persist_all(self, *, force: bool = True) -> None:
        """Commit the sessions' marks and counters: new anchors at once, the rest at most every
        PERSIST_EVERY_S. A mark that lags only means a resend after a crash is written again
        rather than skipped: points are keyed by time, so it is stored once either way."""
        now = time.monotonic()
        due = force or now - self._persisted_at >= PERSIST_EVERY_S
        dirty = [s for s in self._sessions.values() if s.anchor_unsaved or (due and s.dirty)]
        if due:
            self._persisted_at = now
        if not dirty:
            return
        by_id = {live.id: live for live in dirty}
        with self._database() as db:
            rows = db.scalars(select(TreatmentSession).where(TreatmentSession.id.in_(by_id)))
            for row in rows:
                by_id[row.id].persist(row)
            db.commit()

    def _rollup_running(self, store: TimeSeriesStore, touched: set[str]) -> None:
        """Roll up sessions due for it, at most ROLLUPS_PER_GROUP per group: sessions started
        together fall due together, and a hundred roll-ups at once would hold up the next
        group (and every live view) for tens of ms."""
        done = 0
        for sid in touched:
            live = self._sessions.get(sid)
            if live is None or live.anchor_ns is None or live.hwm_us is None:
                continue
            end_ns = live.anchor_ns + (live.hwm_us - (live.anchor_device_us or 0)) * 1000
            if end_ns - live.rolled_ns >= ROLLUP_EVERY_NS:
                try:
                    store.rollup(sid, end_ns=end_ns - 2 * 10**9)
                except TimeSeriesError as exc:  # roll-ups can wait: the samples are safe
                    _LOGGER.warning("roll-up of session %s postponed: %s", sid, exc)
                    return
                live.rolled_ns = end_ns
                done += 1
                if done >= ROLLUPS_PER_GROUP:
                    return

    # --- live view -----------------------------------------------------------------------

    def watch(self, session_id: str, depth: int = 8) -> ViewerQueue:
        """A bounded queue of live states for one viewer; its last item is the WebSocket close
        code that ends it: FELL_BEHIND for a viewer that let it fill (a frozen browser never
        slows the others), SESSION_ENDED when the session stops, SERVER_RESTART at shutdown."""
        queue: ViewerQueue = asyncio.Queue(depth)
        self.watchers.setdefault(session_id, set()).add(queue)
        return queue

    def unwatch(self, session_id: str, queue: ViewerQueue) -> None:
        viewers = self.watchers.get(session_id)
        if viewers is not None:
            viewers.discard(queue)
            if not viewers:
                del self.watchers[session_id]

    def _publish(self, snapshots: dict[str, dict[str, object]]) -> None:
        for sid, state in snapshots.items():
            for queue in list(self.watchers.get(sid, ())):
                try:
                    queue.put_nowait(state)
                except asyncio.QueueFull:
                    self.dropped_viewers += 1
                    self._end(sid, queue, FELL_BEHIND)

    def _end(self, session_id: str, queue: ViewerQueue, code: int) -> None:
        self.unwatch(session_id, queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(code)

    def end_viewers(self, session_id: str, code: int) -> None:
        """Close every live view of a session (it stopped, or the server is going down)."""
        for queue in list(self.watchers.get(session_id, ())):
            self._end(session_id, queue, code)

    def set_area(self, session_id: str, area: str, started_ns: int) -> None:
        live = self._sessions.get(session_id)
        if live is not None:
            live.live.area, live.live.area_started_ns = area, started_ns

    # --- control -------------------------------------------------------------------------

    async def send_to_tool(self, clinic_id: str, serial: str, message: dict[str, object]) -> bool:
        """Send a control message to the tool's ingester; False if it is not connected."""
        send = self.channels.get((clinic_id, serial))
        if send is None:
            return False
        await send(message)
        return True


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite gives back naive datetimes; every time strigil stores is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
