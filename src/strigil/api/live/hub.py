"""The live hub: one per API process, the face the routes see of the live path.

It composes the pieces, each in its own module: the store thread (:mod:`.store_thread`), the
active sessions (:mod:`.active`), their rows in the metadata database (:mod:`.rows`), group
commits of ingest batches (:mod:`.groups`), roll-ups (:mod:`.rollups`), live-view
subscriptions (:mod:`.viewers`) and control channels to ingesters (:mod:`.channels`).
Registering a viewer or a channel returns the function that cancels it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strigil.api.live.active import ActiveSessions
from strigil.api.live.channels import Send, ToolChannels
from strigil.api.live.feed import LiveFeed
from strigil.api.live.groups import BatchOutcome, GroupCommitter
from strigil.api.live.rollups import roll_up_final
from strigil.api.live.rows import SessionRows
from strigil.api.live.session import LiveSession
from strigil.api.live.store_thread import StoreThread
from strigil.api.live.viewers import SERVER_RESTART, Subscription, Viewers
from strigil.ingest.protocol import Frame, MalformedFrameError, decode_frame
from strigil.research.doses import stroke_areas
from strigil.signal.scoring import ProtocolScore, ProtocolTargets, score_session
from strigil.signal.strokes import Summary
from strigil.store.models import AreaSegment, SessionStatus, TreatmentSession
from strigil.store.timeseries import TimeSeriesStore

T = TypeVar("T")


def _decoded(data: bytes) -> Frame | None:
    try:
        return decode_frame(data)
    except MalformedFrameError:
        return None  # counted where the batch is stored


STOP_WAIT_S = 15.0
"""A stop waits at most this long for an ingester still delivering frames from before it."""
STOP_IDLE_S = 1.0
"""No frame for this long: nothing is on its way (the tool stopped or was switched off)."""
STOP_SLACK_S = 0.3
"""Frames this close to the stop count as delivered (the frame-timing rule keeps them fresh)."""


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
        self._thread = StoreThread(open_store)
        self._active = ActiveSessions()
        self._rows = SessionRows(database)
        self._feeds: dict[str, LiveFeed] = {}
        """Event-loop live state of the watched sessions."""
        self.viewers = Viewers(self._feeds.get)
        self.channels = ToolChannels()
        self._groups = GroupCommitter(
            self._thread,
            self._active,
            self._rows,
            watched=self.viewers.watched,
            on_figures=self._new_figures,
            on_error=self._new_errors,
        )

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store and take over every session left active (an API restart)."""
        await self._thread.open()

        def activate(store: TimeSeriesStore) -> None:
            with self._rows.database() as db:
                active = db.scalars(
                    select(TreatmentSession).where(TreatmentSession.status == SessionStatus.ACTIVE)
                ).all()
                for row in active:
                    self._active.add(self._rows.load(db, row, store))

        await self._thread.call(activate)
        self._groups.start()

    async def close(self) -> None:
        self.viewers.end_all(SERVER_RESTART)
        await self._groups.close()
        await self._thread.close(lambda: self._rows.persist(self._active.all()))

    async def call(self, fn: Callable[[TimeSeriesStore], T]) -> T:
        """Run ``fn(store)`` on the store thread (the only one that may touch the store or a
        live session's state)."""
        return await self._thread.call(fn)

    # --- sessions --------------------------------------------------------------------------

    async def start_session(self, session_id: str) -> None:
        def run(store: TimeSeriesStore) -> None:
            with self._rows.database() as db:
                row = db.get(TreatmentSession, session_id)
                if row is not None:
                    self._active.add(self._rows.load(db, row, store))

        await self.call(run)

    def active_session_of(self, clinic_id: str, serial: str) -> str | None:
        live = self._active.of_tool(clinic_id, serial)
        return None if live is None else live.id

    def live(self, session_id: str) -> LiveSession | None:
        return self._active.get(session_id)

    def set_area(self, session_id: str, area: str, started_ns: int) -> None:
        live = self._active.get(session_id)
        if live is not None:
            live.live.area, live.live.area_started_ns = area, started_ns

    def _read_prior_now(self, store: TimeSeriesStore, session_id: str) -> None:
        waiting = self._active.get(session_id)
        if waiting is not None and waiting.prior_pending:
            store.flush()
            waiting.take_prior(store.read_strokes(waiting.id))

    async def wait_delivered(
        self, session_id: str, stop_ns: int, *, bound_s: float = STOP_WAIT_S
    ) -> float:
        """Wait (at most ``bound_s``) while the tool's ingester is still delivering frames
        from before ``stop_ns`` — catching up from its spool after an outage — so that a stop
        does not cut them off. Returns how many seconds before the stop were still missing
        when it gave up (0.0: delivered, or nothing arriving to wait for)."""
        deadline = time.monotonic() + bound_s
        while True:
            live = self._active.get(session_id)
            if live is None or live.live.host_ns is None:
                return 0.0
            behind_s = (stop_ns - live.live.host_ns) / 1e9
            received = live.live.received_monotonic
            flowing = received is not None and time.monotonic() - received < STOP_IDLE_S
            if behind_s <= STOP_SLACK_S or not flowing:
                return 0.0  # delivered up to the stop, or nothing on its way
            if time.monotonic() >= deadline:
                return behind_s
            await asyncio.sleep(0.05)

    async def prepare_stop(self, session_id: str) -> None:
        """Make sure a stop can summarise the whole session: a session taken over while the
        store was away needs its earlier strokes first. Raises StoreUnavailableError (the
        session then keeps running) if the store still cannot give them."""
        await self.call(lambda store: self._read_prior_now(store, session_id))

    async def stop_session(
        self, session_id: str, targets: ProtocolTargets, segments: Sequence[AreaSegment]
    ) -> StopResult:
        """Finish the analysis, store strokes, summary and roll-ups; the session stops taking
        frames. Works for a session this process never saw data for (summary of nothing)."""

        def run(store: TimeSeriesStore) -> StopResult:
            self._read_prior_now(store, session_id)
            live = self._active.pop(session_id)
            if live is None:
                with self._rows.database() as db:
                    row = db.get(TreatmentSession, session_id)
                    if row is None:
                        raise KeyError(session_id)
                    live = LiveSession(row, f"session-{row.id}", [])
            if live.analyzer is not None:
                tail = live.analyzer.finish()
                if tail:
                    store.write_strokes(live.id, tail)
            summary = live.summary()
            score = score_session(
                live.strokes,
                summary,
                targets,
                body_areas=max(len(segments), 1),
                stroke_areas=stroke_areas(live.strokes, segments, live.anchor_ns),
            )
            if not live.begun:
                store.begin_session(live.id, tool=live.serial, start_ns=live.started_ns)
                live.begun = True
            store.write_summary(live.id, summary.to_json())
            roll_up_final(store, live)
            store.flush()
            self._rows.persist_one(live)
            return StopResult(summary, score)

        return await self.call(run)

    # --- ingest, viewers, tools ------------------------------------------------------------

    async def ingest(
        self,
        clinic_id: str,
        serial: str,
        records: list[tuple[int, bytes]],
        decoded: list[Frame | None] | None = None,
    ) -> asyncio.Future[BatchOutcome]:
        """Queue a batch (and its frames decoded by :meth:`feed`, if it did); the future
        resolves once it is durable (or raises)."""
        return await self._groups.ingest(clinic_id, serial, records, decoded)

    def feed(
        self, clinic_id: str, serial: str, records: list[tuple[int, bytes]]
    ) -> list[Frame | None] | None:
        """A batch as it arrived, for the live views (event loop; before the store sees it).
        Returns the frames it decoded (None: malformed) for the store thread to use again, or
        None if nobody watches the session (the store thread decodes them then)."""
        live = self._active.of_tool(clinic_id, serial)
        if live is None:
            return None
        feed = self._feeds.get(live.id)
        if feed is None:
            return None
        decoded = [_decoded(data) for _, data in records]
        if feed.take(records, decoded):
            self.viewers.notify(live.id)
        return decoded

    def watch(self, session_id: str) -> Subscription:
        """Subscribe a viewer (see :class:`Subscription`); cancel it in ``finally``."""
        live = self._active.get(session_id)
        if live is not None and session_id not in self._feeds:
            self._feeds[session_id] = LiveFeed(
                live, on_change=lambda: self.viewers.notify(session_id)
            )
        return self.viewers.watch(session_id)

    def end_viewers(self, session_id: str, code: int) -> None:
        """Close the session's live views (it stopped): its feed goes with them."""
        self.viewers.end(session_id, code)
        self._feeds.pop(session_id, None)

    def _new_figures(self, snapshots: dict[str, dict[str, object]]) -> None:
        for sid, figures in snapshots.items():
            feed = self._feeds.get(sid)
            if feed is not None:
                feed.set_figures(figures)

    def _new_errors(self, errors: dict[str, dict[str, object]]) -> None:
        for sid, message in errors.items():
            self.viewers.post(sid, message)

    def register_tool(self, clinic_id: str, serial: str, send: Send) -> Callable[[], None]:
        """Route control messages for this tool to its ingester; returns the cancel function."""
        return self.channels.register(clinic_id, serial, send)

    async def send_to_tool(self, clinic_id: str, serial: str, message: dict[str, object]) -> bool:
        """Send a control message to the tool's ingester; False if it is not connected."""
        return await self.channels.send(clinic_id, serial, message)
