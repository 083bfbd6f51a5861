"""Group commits: batches from every ingest connection, stored together and then acked.

Batches are taken in groups: each batch of a group is decoded, deduplicated and staged by its
session, then every staged sample is written in one call, analysed, and the store flushed once
(samples durable: in the store or in its on-disk queue); new anchors are committed to the
metadata database, and only then is every batch of the group acknowledged. The more
connections, the larger the groups: one flush serves them all, and a group starts at most
every GROUP_INTERVAL_S. Live views are handed their
new state before the flush (the view need not wait for the disk; the acks do).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from strigil.api.live.active import ActiveSessions
from strigil.api.live.rollups import roll_up_running
from strigil.api.live.rows import SessionRows
from strigil.api.live.store_thread import StoreThread
from strigil.ingest.protocol import Frame
from strigil.store.timeseries import StoreUnavailableError, TimeSeriesStore, WriteQueueFullError

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What became of one ingest batch; sent back as its acknowledgement."""

    frames: int
    stored: int
    duplicate_frames: int
    malformed_frames: int
    unassigned: int
    """Frames that arrived while the tool had no active session (kept for nobody)."""
    session_id: str | None

    def ack(self, batch_id: int) -> dict[str, object]:
        return {
            "type": "ack",
            "batch": batch_id,
            "frames": self.frames,
            "stored": self.stored,
            "duplicate_frames": self.duplicate_frames,
            "malformed_frames": self.malformed_frames,
            "unassigned": self.unassigned,
            "session_id": self.session_id,
        }


def ack_of(run: list[tuple[int, BatchOutcome]]) -> dict[str, object]:
    """One acknowledgement for consecutive batches stored together (oldest first): it names
    the newest batch, how many it covers (``batches``) and the sums of their outcomes."""
    batch_id, newest = run[-1]
    if len(run) == 1:
        return newest.ack(batch_id)
    message = {
        "type": "ack",
        "batch": batch_id,
        "batches": len(run),
        "session_id": newest.session_id,
    }
    for key in ("frames", "stored", "duplicate_frames", "malformed_frames", "unassigned"):
        message[key] = sum(getattr(outcome, key) for _, outcome in run)
    return message


def client_error(exc: BaseException) -> str:
    """What a client is told about its own batch that was not stored. strigil's own store
    errors say what happened in words written for it; anything else (a database error, say,
    whose text may hold other sessions' ids and figures) only that the batch was not stored.
    The details go to the log."""
    if isinstance(exc, WriteQueueFullError | StoreUnavailableError):
        what = str(exc)
    else:
        what = "the server could not store this batch (its log says why)"
    return f"{what}; the batch was not stored: send it again later"


GROUP_INTERVAL_S: Final = 0.05
"""A group starts at most this often. Each group flushes the store, snapshots every watched
session it touched, persists rows and rolls up: at 100 tools, groups taken as fast as the store
thread could go were small and many, and those fixed costs took the API's event loop's share
of the GIL. Only acknowledgements and figures wait for a group; the live samples do not."""


@dataclass
class _Pending:
    clinic_id: str
    serial: str
    records: list[tuple[int, bytes]]
    decoded: list[Frame | None] | None
    """The records' frames as the live feed decoded them (None: not decoded yet)."""
    future: asyncio.Future[BatchOutcome]


class GroupCommitter:
    """Takes batches from the event loop, commits them in groups on the store thread."""

    def __init__(
        self,
        thread: StoreThread,
        active: ActiveSessions,
        rows: SessionRows,
        watched: Callable[[str], bool],
        on_figures: Callable[[dict[str, dict[str, object]]], None],
        on_error: Callable[[dict[str, dict[str, object]]], None],
    ) -> None:
        """``on_figures`` and ``on_error`` are called on the event loop with the watched
        sessions' snapshots after each group, or the error that kept a group from the store."""
        self._thread = thread
        self._active = active
        self._rows = rows
        self._watched = watched
        self._on_figures = on_figures
        self._on_error = on_error
        self._inbox: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._commit_loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def ingest(
        self,
        clinic_id: str,
        serial: str,
        records: list[tuple[int, bytes]],
        decoded: list[Frame | None] | None = None,
    ) -> asyncio.Future[BatchOutcome]:
        """Queue a batch; the future resolves once it is durable (or raises)."""
        future: asyncio.Future[BatchOutcome] = asyncio.get_running_loop().create_future()
        await self._inbox.put(_Pending(clinic_id, serial, records, decoded, future))
        return future

    async def _commit_loop(self) -> None:
        last_start = -math.inf
        while True:
            first = await self._inbox.get()
            wait = last_start + GROUP_INTERVAL_S - time.monotonic()
            if wait > 0:  # let the group fill: a group's fixed costs are most of a small one's
                await asyncio.sleep(wait)
            last_start = time.monotonic()
            group = [first]
            while not self._inbox.empty():
                group.append(self._inbox.get_nowait())
            try:
                results = await self._thread.run(functools.partial(self._take_group, group))
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

    # --- on the store thread ---------------------------------------------------------------

    def _take_group(self, group: list[_Pending]) -> list[BatchOutcome | Exception]:
        store = self._thread.store
        results: list[BatchOutcome | Exception] = []
        touched: set[str] = set()
        for item in group:
            try:
                results.append(self._take(store, item, touched))
            except Exception as exc:
                _LOGGER.warning("batch from %s refused", item.serial, exc_info=True)
                results.append(exc)
        sessions = [live for sid in touched if (live := self._active.get(sid)) is not None]
        staged = [live for live in sessions if live.staged]
        try:
            store.write_sample_blocks([live.staged_block() for live in staged])
            for live in staged:
                live.commit_staged(store)
            self._publish_soon(touched)  # the view need not wait for the disk; the acks do
            store.flush()
            for live in sessions:
                live.durable_hwm_us = live.hwm_us
            self._rows.persist(self._active.all(), force=False)
            self._rows.read_prior(store, sessions)
        except Exception as exc:
            _LOGGER.error("could not make ingest durable", exc_info=True)
            for live in sessions:
                live.rollback()
            self._publish_error(touched, exc)
            return [exc] * len(group)
        roll_up_running(store, sessions)
        return results

    def _take(self, store: TimeSeriesStore, item: _Pending, touched: set[str]) -> BatchOutcome:
        live = self._active.of_tool(item.clinic_id, item.serial)
        if live is None:
            return BatchOutcome(len(item.records), 0, 0, 0, len(item.records), None)
        started = live.started_ns
        mine = [r for r in item.records if r[0] >= started]
        decoded = None
        if item.decoded is not None:
            pairs = zip(item.records, item.decoded, strict=True)
            decoded = [frame for r, frame in pairs if r[0] >= started]
        dup, bad = live.stage(store, mine, decoded)
        touched.add(live.id)
        unassigned = len(item.records) - len(mine)
        return BatchOutcome(len(item.records), len(mine) - dup - bad, dup, bad, unassigned, live.id)

    def _publish_soon(self, touched: set[str]) -> None:
        """Snapshot the watched sessions, hand them to the loop."""
        now = time.time_ns()
        snapshots = {
            sid: live.snapshot(now)
            for sid in touched
            if self._watched(sid) and (live := self._active.get(sid)) is not None
        }
        if snapshots and self._loop is not None:
            self._loop.call_soon_threadsafe(self._on_figures, snapshots)

    def _publish_error(self, touched: set[str], exc: Exception) -> None:
        """Tell the live views why their data is not being stored: the ingester keeps it in
        its spool and sends it again, so nothing is lost, but the therapist should know."""
        detail = (
            f"samples are not being stored: {client_error(exc)}. The ingester keeps them in its "
            "spool and resends them; nothing is lost while its spool has room."
        )
        message: dict[str, object] = {"type": "error", "detail": detail}
        errors = {sid: message for sid in touched if self._watched(sid)}
        if errors and self._loop is not None:
            self._loop.call_soon_threadsafe(self._on_error, errors)
