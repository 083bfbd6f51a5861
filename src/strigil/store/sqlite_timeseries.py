"""Embedded time-series backend: one SQLite file, no server (the default and the demo's).

Samples sit in a ``WITHOUT ROWID`` table keyed by (session, t_ns), so a rewrite replaces and
reads of a time range are one index walk. Values are stored as 8-byte floats: exactly what was
written comes back.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from strigil.signal.strokes import Stroke
from strigil.store.timeseries import (
    ROLLUP_NS,
    SAMPLE_FIELDS,
    AggregateRows,
    SampleBlock,
    TimeSeriesStore,
    UnknownSessionError,
    check_id,
)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS ts_sessions (
    session TEXT PRIMARY KEY, tool TEXT NOT NULL, start_ns INTEGER NOT NULL,
    rolled_until_ns INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS samples_1s (
    session TEXT NOT NULL, t_ns INTEGER NOT NULL,
    mean_n REAL NOT NULL, min_n REAL NOT NULL, max_n REAL NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (session, t_ns)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS samples (
    session TEXT NOT NULL, t_ns INTEGER NOT NULL,
    {", ".join(f"{f} REAL NOT NULL" for f in SAMPLE_FIELDS)},
    PRIMARY KEY (session, t_ns)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS strokes (
    session TEXT NOT NULL, t_ns INTEGER NOT NULL, row TEXT NOT NULL,
    PRIMARY KEY (session, t_ns)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS summaries (
    session TEXT PRIMARY KEY, row TEXT NOT NULL
) WITHOUT ROWID;
"""


class SQLiteTimeSeriesStore(TimeSeriesStore):
    """Time series in a SQLite file (``:memory:`` for a throwaway store)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._session_keys: dict[str, tuple[str, int]] = {}
        """Tool and start of the sessions this process has written: their writes' lookup."""
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._insert = (
            f"INSERT OR REPLACE INTO samples (session, t_ns, {', '.join(SAMPLE_FIELDS)}) "
            f"VALUES (?, ?, {', '.join('?' * len(SAMPLE_FIELDS))})"
        )

    def begin_session(self, session: str, *, tool: str, start_ns: int) -> None:
        check_id("session", session)
        check_id("tool", tool)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO ts_sessions VALUES (?, ?, ?, NULL)",
                (session, tool, start_ns),
            )
        self._session_keys[session] = (tool, start_ns)

    def _tool_and_start(self, session: str) -> tuple[str, int]:
        """Cached: every write asks, and reading the whole session table each time cost a
        live API with 100 sessions a quarter of its store thread."""
        known = self._session_keys.get(session)
        if known is not None:
            return known
        check_id("session", session)
        with self._lock:
            row = self._db.execute(
                "SELECT tool, start_ns FROM ts_sessions WHERE session = ?", (session,)
            ).fetchone()
        if row is None:
            raise UnknownSessionError(f"unknown session {session!r}: begin_session() it first")
        self._session_keys[session] = (row[0], int(row[1]))
        return self._session_keys[session]

    def sessions(self) -> dict[str, tuple[str, int]]:
        with self._lock:
            rows = self._db.execute("SELECT session, tool, start_ns FROM ts_sessions").fetchall()
        return {s: (tool, start) for s, tool, start in rows}

    @staticmethod
    def _rows(session: str, block: SampleBlock) -> Iterator[tuple[object, ...]]:
        columns = [block.t_ns.tolist(), *(block.values[:, k].tolist() for k in range(7))]
        return zip([session] * len(block), *columns, strict=True)

    def _write_samples(self, session: str, tool: str, block: SampleBlock) -> None:
        self._write_sample_blocks([(session, tool, block)])

    def _write_sample_blocks(self, blocks: Sequence[tuple[str, str, SampleBlock]]) -> None:
        """Every block in one transaction: one commit for a whole ingest group."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                rows = (self._rows(session, block) for session, _, block in blocks)
                self._db.executemany(self._insert, itertools.chain.from_iterable(rows))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _write_strokes(
        self, session: str, tool: str, start_ns: int, strokes: Sequence[Stroke]
    ) -> None:
        rows = [
            (session, start_ns + round(s.start_s * 1e9), json.dumps(s.record())) for s in strokes
        ]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO strokes VALUES (?, ?, ?)", rows)

    def _write_summary(
        self, session: str, tool: str, start_ns: int, summary: dict[str, object]
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO summaries VALUES (?, ?)", (session, json.dumps(summary))
            )

    def read_samples(
        self, session: str, start_ns: int | None = None, end_ns: int | None = None
    ) -> SampleBlock:
        self._tool_and_start(session)
        lo = -(2**63) if start_ns is None else start_ns
        hi = 2**63 - 1 if end_ns is None else end_ns
        with self._lock:
            rows = self._db.execute(
                f"SELECT t_ns, {', '.join(SAMPLE_FIELDS)} FROM samples "
                "WHERE session = ? AND t_ns >= ? AND t_ns < ? ORDER BY t_ns",
                (session, lo, hi),
            ).fetchall()
        if not rows:
            return SampleBlock(np.empty(0, np.int64), np.empty((0, 7)))
        t = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        values = np.array([r[1:] for r in rows], dtype=np.float64)
        return SampleBlock(t, values)

    def _aggregate(self, session: str, start_ns: int, end_ns: int, every_ns: int) -> AggregateRows:
        with self._lock:
            rows = self._db.execute(
                "SELECT (t_ns / ?) * ?, avg(force_n), min(force_n), max(force_n), count(*) "
                "FROM samples WHERE session = ? AND t_ns >= ? AND t_ns < ? "
                "GROUP BY t_ns / ? ORDER BY 1",
                (every_ns, every_ns, session, start_ns, end_ns, every_ns),
            ).fetchall()
        return AggregateRows.from_rows(rows)

    def _rollup_rows(self, session: str, start_ns: int, end_ns: int) -> AggregateRows:
        with self._lock:
            rows = self._db.execute(
                "SELECT t_ns, mean_n, min_n, max_n, count FROM samples_1s "
                "WHERE session = ? AND t_ns >= ? AND t_ns < ? ORDER BY t_ns",
                (session, start_ns, end_ns),
            ).fetchall()
        return AggregateRows.from_rows(rows)

    def _compute_rollup(self, session: str, start_ns: int, end_ns: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO samples_1s "
                "SELECT session, (t_ns / ?) * ?, avg(force_n), min(force_n), max(force_n), "
                "count(*) FROM samples WHERE session = ? AND t_ns >= ? AND t_ns < ? "
                "GROUP BY t_ns / ?",
                (ROLLUP_NS, ROLLUP_NS, session, start_ns, end_ns, ROLLUP_NS),
            )

    def _rolled_until(self, session: str) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT rolled_until_ns FROM ts_sessions WHERE session = ?", (session,)
            ).fetchone()
        return None if row is None else row[0]

    def _set_rolled_until(self, session: str, t_ns: int) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE ts_sessions SET rolled_until_ns = ? WHERE session = ?", (t_ns, session)
            )

    def read_strokes(self, session: str) -> list[Stroke]:
        self._tool_and_start(session)
        with self._lock:
            rows = self._db.execute(
                "SELECT row FROM strokes WHERE session = ? ORDER BY t_ns", (session,)
            ).fetchall()
        return [Stroke.from_record(json.loads(r[0])) for r in rows]

    def read_summary(self, session: str) -> dict[str, object] | None:
        self._tool_and_start(session)
        with self._lock:
            row = self._db.execute(
                "SELECT row FROM summaries WHERE session = ?", (session,)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def delete_session(self, session: str) -> None:
        check_id("session", session)
        with self._lock:
            self._db.execute("BEGIN")
            for table in ("samples", "samples_1s", "strokes", "summaries", "ts_sessions"):
                self._db.execute(f"DELETE FROM {table} WHERE session = ?", (session,))
            self._db.execute("COMMIT")
        self._session_keys.pop(session, None)

    def close(self) -> None:
        with self._lock:
            self._db.close()
