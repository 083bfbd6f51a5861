"""The time-series store: one interface, two backends (embedded SQLite, InfluxDB v1 HTTP).

What is stored (docs/data-model.md has the InfluxDB schema for Grafana and the ``influx`` CLI):

- **samples**: per session, one row per sample at its wall-clock time in ns, with the CSV's
  columns ``force_n, acc_x_g, acc_y_g, acc_z_g, gyr_x_dps, gyr_y_dps, gyr_z_dps``. A sample is
  identified by (session, time): writing it again replaces it, never duplicates it.
- **strokes**: per session, one row per stroke at its start time, with the per-stroke keys of
  docs/tool-profile.md.
- **summaries**: one row per session with the summary keys.

Everything written is checked first: a bad batch raises :class:`InvalidSamplesError` or
:class:`UnknownSessionError` and nothing of it is written.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from strigil.common import ids
from strigil.recordings.format import COLUMNS
from strigil.signal.strokes import Stroke
from strigil.store.errors import InvalidSamplesError as InvalidSamplesError
from strigil.store.errors import StoreUnavailableError as StoreUnavailableError
from strigil.store.errors import TimeSeriesError as TimeSeriesError
from strigil.store.errors import UnknownSessionError as UnknownSessionError
from strigil.store.errors import WriteQueueFullError as WriteQueueFullError

SAMPLE_FIELDS: Final = COLUMNS[1:]
"""Field names of a sample: the CSV's columns after ``t_s``."""
STROKE_FIELDS: Final = (
    "start_s",
    "end_s",
    "duration_s",
    "peak_force_n",
    "mean_force_n",
    "impulse_ns",
    "mean_pressure_kpa",
    "tilt_deg",
    "direction",
    "saturated",
    "pattern",
    "turn_deg",
)
# What a profile-v1 tool can report (i16 counts times the resolution), with the sign.
SAMPLE_LIMITS: Final = (327.68, 32.768, 32.768, 32.768, 3276.8, 3276.8, 3276.8)
# Wall-clock times must fall in 2000..2200: anything else is a unit mistake (s or ms for ns).
MIN_T_NS: Final = 946_684_800 * 10**9
MAX_T_NS: Final = 7_258_118_400 * 10**9

Int64Array = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def check_id(kind: str, value: str) -> str:
    """:func:`strigil.common.ids.check_id`, raising InvalidSamplesError: nothing is written."""
    return ids.check_id(kind, value, error=InvalidSamplesError)


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """Samples of one session: ``t_ns`` (n,), ``values`` (n, 7) in SAMPLE_FIELDS order."""

    t_ns: Int64Array
    values: FloatArray

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])

    @property
    def force_n(self) -> FloatArray:
        return self.values[:, 0]


ROLLUP_NS: Final = 10**9


@dataclass(frozen=True, slots=True)
class AggregateRows:
    """Buckets (start ns) with mean, min, max and the number of samples behind each."""

    t_ns: Int64Array
    mean_n: FloatArray
    min_n: FloatArray
    max_n: FloatArray
    count: Int64Array

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[float]]) -> AggregateRows:
        """From (t, mean, min, max, count) rows, whatever the driver returned."""
        if not rows:
            empty = np.empty(0)
            return cls(np.empty(0, np.int64), empty, empty, empty, np.empty(0, np.int64))
        arr = np.array([r[1:5] for r in rows], dtype=np.float64)
        return cls(
            np.array([int(r[0]) for r in rows], dtype=np.int64),
            arr[:, 0],
            arr[:, 1],
            arr[:, 2],
            arr[:, 3].astype(np.int64),
        )


def _concat(parts: Sequence[AggregateRows]) -> AggregateRows:
    return AggregateRows(
        *(
            np.concatenate([getattr(p, f) for p in parts])
            for f in ("t_ns", "mean_n", "min_n", "max_n", "count")
        )
    )


def _to_trace(rows: AggregateRows, every_ns: int) -> ForceTrace:
    """Merge rows into buckets of ``every_ns``: min of mins, max of maxes, weighted mean."""
    if rows.t_ns.size == 0:
        empty = np.empty(0)
        return ForceTrace(np.empty(0, np.int64), empty, empty, empty)
    bucket = (rows.t_ns // every_ns) * every_ns
    keys, inverse = np.unique(bucket, return_inverse=True)
    count = np.bincount(inverse, weights=rows.count)
    total = np.bincount(inverse, weights=rows.mean_n * rows.count)
    low = np.full(keys.size, np.inf)
    np.minimum.at(low, inverse, rows.min_n)
    high = np.full(keys.size, -np.inf)
    np.maximum.at(high, inverse, rows.max_n)
    return ForceTrace(keys, total / count, low, high)


@dataclass(frozen=True, slots=True)
class ForceTrace:
    """Force downsampled into buckets starting at ``t_ns``: mean, min and max per bucket."""

    t_ns: Int64Array
    mean_n: FloatArray
    min_n: FloatArray
    max_n: FloatArray


def checked_samples(
    t_ns: ArrayLike, force_n: ArrayLike, acc_g: ArrayLike, gyr_dps: ArrayLike
) -> SampleBlock:
    """Validate a batch of samples; raise InvalidSamplesError naming the first bad one."""
    t = np.asarray(t_ns)
    if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer):
        raise InvalidSamplesError(f"t_ns must be a 1-D integer array of ns, not {t.dtype}{t.shape}")
    n = t.shape[0]
    try:
        values = np.empty((n, 7))
        values[:, 0] = np.asarray(force_n, dtype=np.float64).reshape(n)
        values[:, 1:4] = np.asarray(acc_g, dtype=np.float64).reshape(n, 3)
        values[:, 4:7] = np.asarray(gyr_dps, dtype=np.float64).reshape(n, 3)
    except ValueError as exc:
        raise InvalidSamplesError(f"sample arrays do not match {n} timestamps: {exc}") from exc
    finite = np.isfinite(values)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise InvalidSamplesError(f"sample {row}: {SAMPLE_FIELDS[col]} is not a finite number")
    over = np.abs(values) > np.asarray(SAMPLE_LIMITS)
    if over.any():
        row, col = np.argwhere(over)[0]
        raise InvalidSamplesError(
            f"sample {row}: {SAMPLE_FIELDS[col]} = {float(values[row, col])!r} is outside the "
            f"tool's range ±{SAMPLE_LIMITS[col]}"
        )
    t64 = t.astype(np.int64)
    if n and (t64.min() < MIN_T_NS or t64.max() > MAX_T_NS):
        bad = int(np.flatnonzero((t64 < MIN_T_NS) | (t64 > MAX_T_NS))[0])
        raise InvalidSamplesError(
            f"sample {bad}: t_ns = {int(t64[bad])} is not a wall-clock time in ns (2000–2200)"
        )
    return SampleBlock(t64, values)


def checked_strokes(strokes: Sequence[Stroke]) -> None:
    for i, s in enumerate(strokes):
        numbers = (s.start_s, s.end_s, s.peak_force_n, s.mean_force_n, s.impulse_ns, s.tilt_deg)
        if not all(math.isfinite(v) for v in numbers) or s.end_s < s.start_s:
            raise InvalidSamplesError(f"stroke {i} has a non-finite value or ends before it starts")


class TimeSeriesStore(abc.ABC):
    """Where samples, strokes and summaries live. Both backends pass tests/test_timeseries.py."""

    @abc.abstractmethod
    def begin_session(self, session: str, *, tool: str, start_ns: int) -> None:
        """Register a session (its tool and wall-clock start); writes need it first."""

    @abc.abstractmethod
    def sessions(self) -> dict[str, tuple[str, int]]:
        """Known sessions: id → (tool, start_ns)."""

    @abc.abstractmethod
    def _write_samples(self, session: str, tool: str, block: SampleBlock) -> None: ...

    @abc.abstractmethod
    def _write_strokes(
        self, session: str, tool: str, start_ns: int, strokes: Sequence[Stroke]
    ) -> None: ...

    @abc.abstractmethod
    def _write_summary(
        self, session: str, tool: str, start_ns: int, summary: dict[str, object]
    ) -> None: ...

    @abc.abstractmethod
    def read_samples(
        self, session: str, start_ns: int | None = None, end_ns: int | None = None
    ) -> SampleBlock:
        """Samples with ``start_ns <= t < end_ns``, in time order."""

    @abc.abstractmethod
    def _aggregate(self, session: str, start_ns: int, end_ns: int, every_ns: int) -> AggregateRows:
        """Raw samples in [start, end) aggregated into buckets of ``every_ns``."""

    @abc.abstractmethod
    def _rollup_rows(self, session: str, start_ns: int, end_ns: int) -> AggregateRows:
        """Stored 1-s roll-ups with start in [start, end)."""

    @abc.abstractmethod
    def _compute_rollup(self, session: str, start_ns: int, end_ns: int) -> None:
        """(Re)compute 1-s roll-ups from the stored samples in [start, end), whole seconds."""

    @abc.abstractmethod
    def _rolled_until(self, session: str) -> int | None: ...

    @abc.abstractmethod
    def _set_rolled_until(self, session: str, t_ns: int) -> None: ...

    def rollup(self, session: str, *, end_ns: int) -> None:
        """Roll up force per second, from the stored samples, up to the last whole second
        before ``end_ns``. Call it when a session ends (and now and then during one): long
        traces then read thousands of roll-ups instead of hundreds of thousands of samples.
        Computed from what is stored, so replayed samples cannot be counted twice."""
        _, start = self._tool_and_start(session)
        self.flush()
        done = self._rolled_until(session)
        a = (start // ROLLUP_NS) * ROLLUP_NS if done is None else done
        b = (end_ns // ROLLUP_NS) * ROLLUP_NS
        if b > a:
            self._compute_rollup(session, a, b)
            self._set_rolled_until(session, b)

    def read_force_trace(
        self, session: str, *, start_ns: int, end_ns: int, every_ns: int
    ) -> ForceTrace:
        """Force in buckets of ``every_ns`` aligned to multiples of it (empty buckets left out).

        Buckets of whole seconds use the roll-ups where the session has them and the raw
        samples elsewhere; the result is the same either way (tested).
        """
        self._tool_and_start(session)
        self.flush()
        if every_ns <= 0:
            raise ValueError(f"every_ns must be positive, not {every_ns}")
        rolled = self._rolled_until(session)
        lo = -(-start_ns // ROLLUP_NS) * ROLLUP_NS  # first whole second inside the range
        hi = min(end_ns, rolled or 0) // ROLLUP_NS * ROLLUP_NS
        if every_ns % ROLLUP_NS or hi <= lo:
            return _to_trace(self._aggregate(session, start_ns, end_ns, every_ns), every_ns)
        parts = [
            self._aggregate(session, start_ns, lo, every_ns) if start_ns < lo else None,
            self._rollup_rows(session, lo, hi),
            self._aggregate(session, hi, end_ns, every_ns) if hi < end_ns else None,
        ]
        return _to_trace(_concat([p for p in parts if p is not None]), every_ns)

    @abc.abstractmethod
    def read_strokes(self, session: str) -> list[Stroke]: ...

    @abc.abstractmethod
    def read_summary(self, session: str) -> dict[str, object] | None: ...

    @abc.abstractmethod
    def delete_session(self, session: str) -> None:
        """Remove everything of a session (a patient's right to erasure)."""

    def readiness(self) -> dict[str, object]:
        """Whether the store takes writes now, for ``/api/v1/ready``: at least ``ok`` (bool)
        and ``backend``; a problem as ``problem`` (what to fix, no data of anyone's)."""
        return {"backend": type(self).__name__, "ok": True}

    def flush(self) -> None:  # noqa: B027 - a no-op for backends that write through
        """Make everything written so far durable (sent, or queued on disk)."""

    def close(self) -> None:
        self.flush()

    # --- checked public writes ---------------------------------------------------------

    def _tool_and_start(self, session: str) -> tuple[str, int]:
        check_id("session", session)
        known = self.sessions().get(session)
        if known is None:
            raise UnknownSessionError(f"unknown session {session!r}: begin_session() it first")
        return known

    def write_samples(
        self,
        session: str,
        t_ns: ArrayLike,
        force_n: ArrayLike,
        acc_g: ArrayLike,
        gyr_dps: ArrayLike,
    ) -> int:
        """Store samples; returns how many. Raises before writing anything if one is bad."""
        tool, _ = self._tool_and_start(session)
        block = checked_samples(t_ns, force_n, acc_g, gyr_dps)
        if len(block):
            self._write_samples(session, tool, block)
        return len(block)

    def write_sample_blocks(
        self, blocks: Sequence[tuple[str, ArrayLike, ArrayLike, ArrayLike, ArrayLike]]
    ) -> int:
        """Samples of several sessions at once: (session, t_ns, force_n, acc_g, gyr_dps) each.
        Every block is checked before anything is written; returns how many samples."""
        checked = [
            (session, *self._tool_and_start(session), checked_samples(t, f, a, g))
            for session, t, f, a, g in blocks
        ]
        checked = [c for c in checked if len(c[3])]
        if checked:
            self._write_sample_blocks([(s, tool, block) for s, tool, _, block in checked])
        return sum(len(c[3]) for c in checked)

    def _write_sample_blocks(self, blocks: Sequence[tuple[str, str, SampleBlock]]) -> None:
        for session, tool, block in blocks:
            self._write_samples(session, tool, block)

    def write_strokes(self, session: str, strokes: Sequence[Stroke]) -> None:
        """Store strokes (times relative to the session's start, as the analysis gives them)."""
        tool, start_ns = self._tool_and_start(session)
        checked_strokes(strokes)
        if strokes:
            self._write_strokes(session, tool, start_ns, strokes)

    def write_summary(self, session: str, summary: dict[str, object]) -> None:
        tool, start_ns = self._tool_and_start(session)
        present = {k: v for k, v in summary.items() if v is not None}
        self._write_summary(session, tool, start_ns, present)

    def __enter__(self) -> TimeSeriesStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
