"""InfluxDB backend through the v1 HTTP API: line protocol to ``/write``, InfluxQL to ``/query``.

Why not ``influxdb-client``: it speaks the ``/api/v2`` endpoints, which InfluxDB 1.x (Debian
ships 1.6.7) does not serve, and Flux, which InfluxDB 3 dropped. The v1 API is served by 1.x,
by 2.x (v1 compatibility with a DBRP mapping) and by 3 Core, so one client reaches all three.

Writes are batched (``batch_lines`` lines or ``batch_interval_s``, whichever first), gzipped and
retried with backoff. When InfluxDB cannot be reached they go to a bounded on-disk queue and
are replayed in order, before anything newer, once it answers again. :meth:`flush` returns when
everything written is either stored in InfluxDB or on disk: that is the acknowledgement.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import httpx
import numpy as np

from strigil.common.backoff import backoff_s
from strigil.common.spool import DiskQueue, SpoolFullError
from strigil.signal.strokes import Stroke
from strigil.store.errors import StoreAccessError
from strigil.store.influx_access import AccessReport, InfluxAccess
from strigil.store.line_protocol import escape_string_field, lines
from strigil.store.timeseries import (
    ROLLUP_NS,
    SAMPLE_FIELDS,
    STROKE_FIELDS,
    AggregateRows,
    SampleBlock,
    StoreUnavailableError,
    TimeSeriesError,
    TimeSeriesStore,
    UnknownSessionError,
    WriteQueueFullError,
    check_id,
)

_LOGGER = logging.getLogger(__name__)
_QUERY_CHUNK_ROWS: Final = 50_000
_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_RETENTION: Final = re.compile(r"INF|[1-9][0-9]*[hdw]")
RETENTION_POLICY: Final = "strigil"


class _UnreachableError(Exception):
    pass


class _RefusedError(_UnreachableError):
    """InfluxDB refused these credentials or rights: queue, and say what to fix."""


def retry_backoff_s(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): 0.1, 0.2, 0.4 … capped at 2 s."""
    return backoff_s(attempt, first_s=0.1, cap_s=2.0)


def _field(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return escape_string_field(str(value))


def _point(measurement: str, tags: str, fields: dict[str, object], t_ns: int) -> str:
    body = ",".join(
        f"{k}={v}" for k, v in ((k, _field(v)) for k, v in fields.items()) if v is not None
    )
    return f"{measurement},{tags} {body} {t_ns}\n"


class InfluxTimeSeriesStore(TimeSeriesStore):
    """Samples, strokes and summaries in an InfluxDB database (schema in docs/data-model.md)."""

    def __init__(
        self,
        url: str,
        *,
        database: str = "strigil",
        username: str | None = None,
        password: str | None = None,
        spool_dir: str | Path,
        spool_max_bytes: int = 512 * 2**20,
        batch_lines: int = 5000,
        batch_interval_s: float = 1.0,
        timeout_s: float = 10.0,
        retries: int = 3,
        compress: bool | None = None,
        retention: str = "INF",
        create_database: bool = True,
    ) -> None:
        check_id("database", database)
        if _RETENTION.fullmatch(retention) is None:
            raise ValueError(
                f"retention {retention!r} is not an InfluxQL duration such as INF, 520w or 30d"
            )
        self.retention = retention
        self._database_ready = not create_database  # 2.x: the DBRP mapping provides it
        self.database = database
        auth = (username, password or "") if username else None
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s, auth=auth)
        self._access = InfluxAccess(self._http, database=database, username=username)
        self.access_problem: str | None = None
        """Why InfluxDB refused the last write (credentials, rights), until one succeeds."""
        self._queue = DiskQueue(spool_dir, max_bytes=spool_max_bytes)
        self._batch_lines = batch_lines
        self._batch_interval_s = batch_interval_s
        self._retries = retries
        host = httpx.URL(url).host
        # gzip saves the network; over loopback it only costs CPU on both ends
        self._compress = compress if compress is not None else host not in _LOOPBACK
        self._buffer: list[tuple[bytes, int]] = []
        self._buffered_lines = 0
        self._buffer_since = 0.0
        self._sessions: dict[str, tuple[str, int]] | None = None
        self._begun: dict[str, tuple[str, int]] = {}
        """Sessions begun by this process (known even while InfluxDB is unreachable)."""
        self._builder: ThreadPoolExecutor | None = None
        self._rolled: dict[str, int] = {}

    # --- transport ---------------------------------------------------------------------

    def _ensure_database(self) -> None:
        """Create the database and make ``strigil`` its default retention policy (first start).

        Both statements are idempotent; a changed retention is applied with ALTER.
        """
        if self._database_ready:
            return
        report = self.check_access()
        for warning in report.warnings:
            _LOGGER.warning("%s", warning)
        self._database_ready = True

    def check_access(self) -> AccessReport:
        """What the configured user may do (:mod:`strigil.store.influx_access`): creates the
        database and retention policy where allowed, writes and reads a test point.

        Raises StoreAccessError naming what to fix, StoreUnavailableError if unreachable.
        """
        return self._access.ensure(
            policy=RETENTION_POLICY, duration=self.retention, create=not self._database_ready
        )

    def _post_payload(self, payload: bytes) -> None:
        body = gzip.compress(payload, compresslevel=1) if self._compress else payload
        last = ""
        for attempt in range(self._retries):
            try:
                self._ensure_database()
            except StoreAccessError as exc:
                self.access_problem = str(exc)
                raise _RefusedError(str(exc)) from exc
            except StoreUnavailableError as exc:
                last = str(exc)
                if attempt + 1 < self._retries:
                    time.sleep(retry_backoff_s(attempt))
                continue
            try:
                headers = {"Content-Type": "text/plain"}
                if self._compress:
                    headers["Content-Encoding"] = "gzip"
                response = self._http.post(
                    "/write",
                    params={"db": self.database, "precision": "ns"},
                    content=body,
                    headers=headers,
                )
            except httpx.TransportError as exc:
                last = str(exc)
            else:
                if response.status_code == 204:
                    self.access_problem = None
                    return
                if response.status_code in (401, 403):
                    refused = self._access.refused(
                        response.status_code, f"write to database {self.database!r}"
                    )
                    self.access_problem = str(refused)
                    raise _RefusedError(str(refused))
                if 400 <= response.status_code < 500:
                    raise TimeSeriesError(
                        f"InfluxDB refused a write ({response.status_code}): {response.text}"
                    )
                last = f"HTTP {response.status_code}: {response.text}"
            if attempt + 1 < self._retries:
                time.sleep(retry_backoff_s(attempt))
        raise _UnreachableError(last)

    def _reject(self, payload: bytes, why: TimeSeriesError) -> None:
        """Set aside a batch InfluxDB refused (4xx), so it cannot block the ones after it.

        Kept on disk beside the queue for inspection, never replayed and never silently gone.
        """
        folder = self._queue.folder / "refused"
        folder.mkdir(exist_ok=True)
        path = folder / f"{time.time_ns()}.lp.gz"
        path.write_bytes(gzip.compress(payload, compresslevel=1))
        _LOGGER.error("InfluxDB refused a batch, kept in %s: %s", path, why)

    def _replay_queue(self) -> bool:
        """Send queued payloads, oldest first; False if InfluxDB is still unreachable."""
        while (item := self._queue.peek()) is not None:
            path, gz = item
            payload = gzip.decompress(gz)
            try:
                self._post_payload(payload)
            except _UnreachableError:
                return False
            except TimeSeriesError as exc:
                self._reject(payload, exc)
            self._queue.drop(path)
        return True

    def _deliver(self, payload: bytes) -> None:
        if self._replay_queue():
            try:
                self._post_payload(payload)
                return
            except _RefusedError as exc:
                _LOGGER.error("%s; queueing writes on disk until this is fixed", exc)
            except _UnreachableError as exc:
                _LOGGER.warning("InfluxDB unreachable (%s); queueing writes on disk", exc)
        try:
            self._queue.put(gzip.compress(payload, compresslevel=1))  # the queue is always gzip
        except SpoolFullError as exc:
            raise WriteQueueFullError(
                f"write queue {exc}: the time-series backend is unreachable: bring InfluxDB "
                "back or raise STRIGIL_SPOOL_MAX_MB"
            ) from exc

    def _append(self, payloads: list[tuple[bytes, int]]) -> None:
        """Buffer one write's payloads (bytes, lines); send whole batches when due.

        If a batch can be neither sent nor queued (queue full), the part of this write still in
        the buffer is taken back out and the error raised; earlier writes stay buffered, so
        nothing accepted before is lost. Retrying the write is safe: points are keyed by time.
        """
        if not self._buffer:
            self._buffer_since = time.monotonic()
        self._buffer.extend(payloads)
        self._buffered_lines += sum(n for _, n in payloads)
        if (
            self._buffered_lines >= self._batch_lines
            or time.monotonic() - self._buffer_since >= self._batch_interval_s
        ):
            try:
                self._send_buffer()
            except WriteQueueFullError:
                mine = min(len(payloads), len(self._buffer))
                del self._buffer[len(self._buffer) - mine :]
                self._buffered_lines = sum(n for _, n in self._buffer)
                raise

    def _send_buffer(self) -> None:
        """Send the buffer in POSTs of at most ``batch_lines`` lines, oldest first."""
        while self._buffer:
            take, lines_in = 1, self._buffer[0][1]
            while (
                take < len(self._buffer) and lines_in + self._buffer[take][1] <= self._batch_lines
            ):
                lines_in += self._buffer[take][1]
                take += 1
            payload = b"".join(p for p, _ in self._buffer[:take])
            try:
                self._deliver(payload)  # WriteQueueFullError: the buffer is kept as it is
            except WriteQueueFullError:
                raise
            except TimeSeriesError as exc:  # refused by InfluxDB: set aside, then report
                self._reject(payload, exc)
                del self._buffer[:take]
                self._buffered_lines -= lines_in
                raise
            del self._buffer[:take]
            self._buffered_lines -= lines_in

    def flush(self) -> None:
        self._send_buffer()
        self._replay_queue()

    def readiness(self) -> dict[str, object]:
        """InfluxDB answering (a 1-s ping), refusing (the reason), and the on-disk queue."""
        problem = self.access_problem
        if problem is None:
            try:
                answered = self._http.get("/ping", timeout=1.0).status_code == 204
            except httpx.TransportError:
                answered = False
            if not answered:
                problem = "InfluxDB does not answer its ping: writes queue on disk"
        age = self._queue.oldest_age_s()
        return {
            "backend": "influxdb",
            "ok": problem is None,
            "problem": problem,
            "queued_batches": len(self._queue),
            "queued_bytes": self._queue.size_bytes,
            "oldest_queued_s": None if age is None else round(age, 1),
        }

    @property
    def queued_payloads(self) -> int:
        """Batches waiting on disk for InfluxDB to come back."""
        return len(self._queue)

    def _query(self, q: str, *, method: str = "GET") -> list[dict[str, Any]]:
        params = {"q": q, "db": self.database, "epoch": "ns"}
        try:
            if method == "POST":
                response = self._http.post("/query", params=params)
            else:
                params |= {"chunked": "true", "chunk_size": str(_QUERY_CHUNK_ROWS)}
                response = self._http.get("/query", params=params)
        except httpx.TransportError as exc:
            raise StoreUnavailableError(f"InfluxDB unreachable: {exc}") from exc
        if response.status_code in (401, 403):
            raise self._access.refused(response.status_code, f"read database {self.database!r}")
        if response.status_code != 200:
            raise StoreUnavailableError(f"InfluxDB query failed ({response.status_code})")
        series: list[dict[str, Any]] = []
        for line in response.text.splitlines():
            if not line.strip():
                continue
            for result in json.loads(line).get("results", []):
                if "error" in result:
                    raise TimeSeriesError(f"InfluxDB: {result['error']} in {q!r}")
                series.extend(result.get("series", []))
        return series

    # --- sessions ----------------------------------------------------------------------

    def begin_session(self, session: str, *, tool: str, start_ns: int) -> None:
        check_id("session", session)
        check_id("tool", tool)
        line = _point(
            "ts_sessions", f"session={session}", {"tool": tool, "start_ns": start_ns}, start_ns
        )
        self._append([(line.encode(), 1)])
        self._begun[session] = (tool, start_ns)
        if self._sessions is not None:
            self._sessions[session] = (tool, start_ns)

    def _tool_and_start(self, session: str) -> tuple[str, int]:
        """Sessions begun here are known without asking InfluxDB, so a session begun while it
        is unreachable is written to the queue like any other."""
        known = self._begun.get(session)
        return known if known is not None else super()._tool_and_start(session)

    def sessions(self) -> dict[str, tuple[str, int]]:
        if self._sessions is None:
            self._send_buffer()
            self._replay_queue()  # sessions begun before a restart may still be in the queue
            found: dict[str, tuple[str, int]] = {}
            self._ensure_database()
            q = 'SELECT "tool", "start_ns", "rolled_until_ns" FROM "ts_sessions" GROUP BY "session"'
            for s in self._query(q):
                for _, tool, start, rolled in s["values"]:
                    found[s["tags"]["session"]] = (tool, int(start))
                    if rolled is not None:
                        self._rolled[s["tags"]["session"]] = int(rolled)
            self._sessions = found | self._begun
        return self._sessions

    # --- writes ------------------------------------------------------------------------

    def _write_samples(self, session: str, tool: str, block: SampleBlock) -> None:
        tags = f"samples,session={session},tool={tool}"
        step = self._batch_lines

        def build(i: int) -> list[tuple[bytes, int]]:
            cols = [block.values[i : i + step, k] for k in range(7)]
            return [
                (
                    lines(tags, SAMPLE_FIELDS, cols, block.t_ns[i : i + step]),
                    min(step, len(block) - i),
                )
            ]

        starts = range(0, len(block), step)
        if len(starts) == 1:
            self._append(build(0))
            return
        # Build the next batch (Arrow, GIL released) while the current one is being posted.
        if self._builder is None:
            self._builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lines")
        window = 4
        pending = [self._builder.submit(build, i) for i in starts[:window]]
        for k in range(len(starts)):
            payload = pending[k].result()
            if k + window < len(starts):
                pending.append(self._builder.submit(build, starts[k + window]))
            self._append(payload)

    def _write_sample_blocks(self, blocks: Sequence[tuple[str, str, SampleBlock]]) -> None:
        """One line-protocol build for many sessions' samples (the live path: each group of
        ingest batches), in POSTs of at most ``batch_lines``."""
        series = [f"samples,session={s},tool={tool}" for s, tool, _ in blocks]
        which = np.repeat(np.arange(len(blocks)), [len(b) for _, _, b in blocks])
        t_ns = np.concatenate([b.t_ns for _, _, b in blocks])
        values = np.concatenate([b.values for _, _, b in blocks])
        step = self._batch_lines
        payloads = [
            (
                lines(
                    (series, which[i : i + step]),
                    SAMPLE_FIELDS,
                    [values[i : i + step, k] for k in range(7)],
                    t_ns[i : i + step],
                ),
                min(step, t_ns.size - i),
            )
            for i in range(0, t_ns.size, step)
        ]
        self._append(payloads)

    def _write_strokes(
        self, session: str, tool: str, start_ns: int, strokes: Sequence[Stroke]
    ) -> None:
        tags = f"session={session},tool={tool}"
        text = "".join(
            _point("strokes", tags, dict(s.record()), start_ns + round(s.start_s * 1e9))
            for s in strokes
        )
        self._append([(text.encode(), len(strokes))])

    def _write_summary(
        self, session: str, tool: str, start_ns: int, summary: dict[str, object]
    ) -> None:
        line = _point("summaries", f"session={session},tool={tool}", summary, start_ns)
        self._append([(line.encode(), 1)])

    # --- reads -------------------------------------------------------------------------

    def _known(self, session: str) -> None:
        check_id("session", session)
        if session not in self.sessions():
            raise UnknownSessionError(f"unknown session {session!r}")
        self.flush()  # read your own writes

    def read_samples(
        self, session: str, start_ns: int | None = None, end_ns: int | None = None
    ) -> SampleBlock:
        self._known(session)
        where = f"\"session\" = '{session}'"
        if start_ns is not None:
            where += f" AND time >= {int(start_ns)}"
        if end_ns is not None:
            where += f" AND time < {int(end_ns)}"
        fields = ", ".join(f'"{f}"' for f in SAMPLE_FIELDS)
        rows: list[list[Any]] = []
        for s in self._query(f'SELECT {fields} FROM "samples" WHERE {where}'):
            rows.extend(s["values"])
        if not rows:
            return SampleBlock(np.empty(0, np.int64), np.empty((0, 7)))
        t = np.array([r[0] for r in rows], dtype=np.int64)
        values = np.array([r[1:] for r in rows], dtype=np.float64)
        order = np.argsort(t, kind="stable")
        return SampleBlock(t[order], values[order])

    def _rows(self, q: str) -> AggregateRows:
        rows: list[list[Any]] = []
        for s in self._query(q):
            rows.extend(s["values"])
        return AggregateRows.from_rows(rows)

    def _aggregate(self, session: str, start_ns: int, end_ns: int, every_ns: int) -> AggregateRows:
        return self._rows(
            'SELECT mean("force_n"), min("force_n"), max("force_n"), count("force_n") '
            f'FROM "samples" WHERE "session" = \'{session}\' AND time >= {int(start_ns)} '
            f"AND time < {int(end_ns)} GROUP BY time({int(every_ns)}ns) fill(none)"
        )

    def _rollup_rows(self, session: str, start_ns: int, end_ns: int) -> AggregateRows:
        return self._rows(
            'SELECT "mean_n", "min_n", "max_n", "count" FROM "samples_1s" '
            f"WHERE \"session\" = '{session}' AND time >= {int(start_ns)} "
            f"AND time < {int(end_ns)}"
        )

    def _compute_rollup(self, session: str, start_ns: int, end_ns: int) -> None:
        self._query(
            'SELECT mean("force_n") AS "mean_n", min("force_n") AS "min_n", '
            'max("force_n") AS "max_n", count("force_n") AS "count" INTO "samples_1s" '
            f'FROM "samples" WHERE "session" = \'{session}\' AND time >= {int(start_ns)} '
            f"AND time < {int(end_ns)} GROUP BY time({ROLLUP_NS}ns), * fill(none)",
            method="POST",
        )

    def _rolled_until(self, session: str) -> int | None:
        self.sessions()
        return self._rolled.get(session)

    def _set_rolled_until(self, session: str, t_ns: int) -> None:
        _, start_ns = self.sessions()[session]
        line = _point("ts_sessions", f"session={session}", {"rolled_until_ns": t_ns}, start_ns)
        self._append([(line.encode(), 1)])
        self._rolled[session] = t_ns

    def read_strokes(self, session: str) -> list[Stroke]:
        self._known(session)
        fields = ", ".join(f'"{f}"' for f in STROKE_FIELDS)
        out: list[Stroke] = []
        for s in self._query(f'SELECT {fields} FROM "strokes" WHERE "session" = \'{session}\''):
            names = s["columns"]
            for values in s["values"]:
                out.append(Stroke.from_record(dict(zip(names, values, strict=True))))
        return out

    def read_summary(self, session: str) -> dict[str, object] | None:
        self._known(session)
        series = self._query(f'SELECT * FROM "summaries" WHERE "session" = \'{session}\'')
        if not series or not series[0]["values"]:
            return None
        row = dict(zip(series[0]["columns"], series[0]["values"][-1], strict=True))
        for key in ("time", "session", "tool"):
            row.pop(key, None)
        return {k: v for k, v in row.items() if v is not None}

    def delete_session(self, session: str) -> None:
        check_id("session", session)
        self.flush()
        if self.queued_payloads:
            raise StoreUnavailableError(
                "cannot erase while writes wait for InfluxDB: they would bring the data back"
            )
        self._query(f"DROP SERIES WHERE \"session\" = '{session}'", method="POST")
        self.sessions().pop(session, None)
        self._begun.pop(session, None)
        self._rolled.pop(session, None)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._http.close()
            if self._builder is not None:
                self._builder.shutdown()
