"""A live session's row in the metadata database: read when the session becomes active,
its marks and counters written back.

New anchors are committed at once (the anchor fixes every stored time, so it is committed
before the first ack); the rest at most every ``PERSIST_EVERY_S``. A mark that lags only means
a resend after a crash is written again rather than skipped: points are keyed by time, so it
is stored once either way.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strigil.api.live.session import LiveSession
from strigil.signal.strokes import Stroke
from strigil.store.clinics import drill_targets, protocol_targets
from strigil.store.models import Drill, Protocol, Tool, TreatmentSession, as_utc
from strigil.store.timeseries import (
    StoreUnavailableError,
    TimeSeriesStore,
    UnknownSessionError,
)

_LOGGER = logging.getLogger(__name__)
PERSIST_EVERY_S = 1.0


class SessionRows:
    """Loads live sessions from their rows and writes their marks back (store thread only)."""

    def __init__(self, database: sessionmaker[Session]) -> None:
        self.database = database
        self._persisted_at = 0.0

    def load(self, db: Session, row: TreatmentSession, store: TimeSeriesStore) -> LiveSession:
        """The live state of an active session; after an API restart it carries on from what
        the store holds, and the restart is noted in the session's interruptions."""
        tool = db.get(Tool, row.tool_id) if row.tool_id else None
        serial = tool.serial if tool is not None else f"session-{row.id}"
        prior: list[Stroke] = []
        pending = False
        if row.anchor_ns is not None:
            try:
                prior = store.read_strokes(row.id)
                _catch_up(store, row)
            except (StoreUnavailableError, UnknownSessionError) as exc:
                # InfluxDB away (or not yet given this session's first writes from the queue):
                # serve anyway, and read the earlier strokes once it answers
                pending = True
                _LOGGER.warning(
                    "session %s: its stored strokes cannot be read now (%s); taking it over "
                    "and reading them when the store answers",
                    row.id,
                    exc,
                )
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
        live.prior_pending = pending
        if row.device_hwm_us is not None and row.anchor_device_us is not None:
            live.resume_t_s = (row.device_hwm_us - row.anchor_device_us) / 1e6
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
        return live

    def read_prior(self, store: TimeSeriesStore, sessions: Sequence[LiveSession]) -> None:
        """Give sessions taken over while the store was away their earlier strokes, if it
        answers now (tried on every group commit until it does)."""
        for live in sessions:
            if not live.prior_pending:
                continue
            try:
                stored = store.read_strokes(live.id)
            except (StoreUnavailableError, UnknownSessionError):
                continue
            live.take_prior(stored)
            _LOGGER.info("session %s: its %d earlier strokes are back", live.id, len(stored))

    def persist_one(self, live: LiveSession) -> None:
        """Commit one session's marks and counters now, changed or not (at its stop)."""
        with self.database() as db:
            row = db.get(TreatmentSession, live.id)
            if row is not None:
                live.persist(row)
                db.commit()

    def persist(self, sessions: Iterable[LiveSession], *, force: bool = True) -> None:
        """Commit the sessions' marks and counters: new anchors at once, the rest when due
        (``force``, or ``PERSIST_EVERY_S`` since the last time)."""
        now = time.monotonic()
        due = force or now - self._persisted_at >= PERSIST_EVERY_S
        dirty = [s for s in sessions if s.anchor_unsaved or (due and s.dirty)]
        if due:
            self._persisted_at = now
        if not dirty:
            return
        by_id = {live.id: live for live in dirty}
        with self.database() as db:
            rows = db.scalars(select(TreatmentSession).where(TreatmentSession.id.in_(by_id)))
            for row in rows:
                by_id[row.id].persist(row)
            db.commit()


def _catch_up(store: TimeSeriesStore, row: TreatmentSession) -> None:
    """After a restart: the committed mark may lag what the store holds by up to a second;
    take the mark and the sample count from the store itself."""
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
