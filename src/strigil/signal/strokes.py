"""Stroke records, bouts and the session summary (definitions of docs/tool-profile.md).

- **Bout**: consecutive strokes whose gaps (end of one to start of the next) are all shorter
  than ``bout_gap_s`` (2 s).
- ``treatment_time_s``: the sum of bout lengths, first stroke's start to last stroke's end.
- ``stroke_rate_per_min``: ``stroke_count / treatment_time_s * 60``.
- ``force_cv``: standard deviation (population, ddof=0) of ``peak_force_n`` over strokes,
  divided by its mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, NamedTuple, get_args

import numpy as np
from numpy.typing import NDArray

DEFAULT_BOUT_GAP_S: Final = 2.0
Direction = Literal["pull", "push"]
Pattern = Literal["linear", "strumming", "j_stroke", "fanning", "unknown"]
PATTERNS: Final[tuple[Pattern, ...]] = get_args(Pattern)
"""Every stroke pattern name, ``unknown`` last: the contract of docs/tool-profile.md."""


class Stroke(NamedTuple):
    """One stroke. Times are seconds from the session's start; force from the drift-corrected zero.

    ``direction`` is the motion along the handle's projection on the skin: ``"pull"`` towards
    +x (the handle end leads, the edge trails), ``"push"`` towards -x. ``pattern`` is the stroke
    pattern (:mod:`strigil.signal.patterns`); ``turn_deg`` the turn about the tool's z axis over
    the stroke, degrees (``None`` without a gyroscope).
    """

    start_s: float
    end_s: float
    peak_force_n: float
    mean_force_n: float
    impulse_ns: float
    mean_pressure_kpa: float | None
    tilt_deg: float
    direction: Direction
    saturated: bool = False
    pattern: Pattern = "unknown"
    turn_deg: float | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def record(self) -> dict[str, float | str | bool | None]:
        """Every field and ``duration_s``, unrounded: what the stores keep."""
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "duration_s": self.duration_s,
            "peak_force_n": self.peak_force_n,
            "mean_force_n": self.mean_force_n,
            "impulse_ns": self.impulse_ns,
            "mean_pressure_kpa": self.mean_pressure_kpa,
            "tilt_deg": self.tilt_deg,
            "direction": self.direction,
            "saturated": self.saturated,
            "pattern": self.pattern,
            "turn_deg": self.turn_deg,
        }

    @classmethod
    def from_record(cls, row: dict[str, Any]) -> Stroke:
        """The stroke of a :meth:`record` (as a store gives it back; ``duration_s`` ignored)."""
        pressure = row.get("mean_pressure_kpa")
        turn = row.get("turn_deg")
        pattern = row.get("pattern")
        return cls(
            start_s=float(row["start_s"]),
            end_s=float(row["end_s"]),
            peak_force_n=float(row["peak_force_n"]),
            mean_force_n=float(row["mean_force_n"]),
            impulse_ns=float(row["impulse_ns"]),
            mean_pressure_kpa=None if pressure is None else float(pressure),
            tilt_deg=float(row["tilt_deg"]),
            direction="push" if row["direction"] == "push" else "pull",
            saturated=bool(row["saturated"]),
            # sessions stored before patterns were classified have neither field
            pattern=pattern if pattern in PATTERNS else "unknown",
            turn_deg=None if turn is None else float(turn),
        )

    def to_json(self) -> dict[str, object]:
        """The per-stroke object of the analysis JSON (docs/formats.md), rounded to what the
        tool resolves."""
        return {
            key: value if not isinstance(value, float) else round(value, _JSON_DIGITS[key])
            for key, value in self.record().items()
        }


_JSON_DIGITS: Final = {
    "start_s": 4,
    "end_s": 4,
    "duration_s": 4,
    "peak_force_n": 3,
    "mean_force_n": 3,
    "impulse_ns": 4,
    "mean_pressure_kpa": 2,
    "tilt_deg": 2,
    "turn_deg": 1,
}


def rounded_json(record: Any, *, digits: int) -> dict[str, object]:
    """A dataclass as a JSON object: floats rounded, tuples as lists."""
    out: dict[str, object] = {}
    for key, value in asdict(record).items():
        if isinstance(value, float):
            value = round(value, digits)
        elif isinstance(value, tuple):
            value = [round(v, digits) if isinstance(v, float) else v for v in value]
        out[key] = value
    return out


@dataclass(frozen=True, slots=True)
class Bout:
    start_s: float
    end_s: float
    stroke_count: int

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class Summary:
    """Session summary; every key of docs/tool-profile.md plus a few that researchers asked for."""

    session_duration_s: float
    treatment_time_s: float
    stroke_count: int
    stroke_rate_per_min: float | None
    mean_stroke_duration_s: float | None
    mean_peak_force_n: float | None
    force_cv: float | None
    lost_samples: int
    bout_count: int
    mean_force_n: float | None
    mean_tilt_deg: float | None
    total_impulse_ns: float
    saturated_strokes: int
    incomplete_strokes: int

    def to_json(self) -> dict[str, object]:
        return rounded_json(self, digits=4)


def bouts_of(
    starts_s: NDArray[np.float64],
    ends_s: NDArray[np.float64],
    *,
    bout_gap_s: float,
    blind_spans_s: Sequence[tuple[float, float]] = (),
) -> list[Bout]:
    """Group strokes (sorted by start) into bouts: a pause of ``bout_gap_s`` or more ends a bout.

    Time inside ``blind_spans_s`` (data lost to the radio) is not a pause: nobody knows what
    happened there, and a disconnect in the middle of a bout should not split it.
    """
    if starts_s.size == 0:
        return []
    cut = _bout_cuts(starts_s, ends_s, bout_gap_s, blind_spans_s)
    first = np.concatenate([[0], cut + 1])
    last = np.concatenate([cut, [starts_s.size - 1]])
    return [
        Bout(float(starts_s[a]), float(ends_s[b]), int(b - a + 1))
        for a, b in zip(first, last, strict=True)
    ]


def _bout_cuts(
    starts_s: NDArray[np.float64],
    ends_s: NDArray[np.float64],
    bout_gap_s: float,
    blind_spans_s: Sequence[tuple[float, float]],
) -> NDArray[np.intp]:
    """Indices i where a bout ends after stroke i (the pause to stroke i + 1 is long enough)."""
    gaps = starts_s[1:] - ends_s[:-1]
    for a, b in blind_spans_s:
        gaps = gaps - np.clip(np.minimum(starts_s[1:], b) - np.maximum(ends_s[:-1], a), 0, None)
    return np.flatnonzero(gaps >= bout_gap_s)


def bout_indices(
    starts_s: NDArray[np.float64],
    ends_s: NDArray[np.float64],
    *,
    bout_gap_s: float,
    blind_spans_s: Sequence[tuple[float, float]] = (),
) -> NDArray[np.int64]:
    """The bout (0, 1, 2 …) of each stroke, by the rule of :func:`bouts_of`.

    >>> bout_indices(np.array([0.0, 1.0, 5.0]), np.array([0.5, 1.5, 5.5]), bout_gap_s=2.0)
    array([0, 0, 1])
    """
    index = np.zeros(starts_s.size, dtype=np.int64)
    if starts_s.size > 1:
        steps = np.zeros(starts_s.size, dtype=np.int64)
        steps[_bout_cuts(starts_s, ends_s, bout_gap_s, blind_spans_s) + 1] = 1
        index = np.cumsum(steps)
    return index


def stroke_columns(strokes: Sequence[Stroke], *names: str) -> list[NDArray[np.float64]]:
    """The named numeric fields of strokes as float arrays, a column each.

    One transposition in C instead of a Python generator per field: the summary of a
    45-minute session reads six columns of 2,600 strokes.
    """
    if not strokes:
        return [np.empty(0) for _ in names]
    columns = list(zip(*strokes, strict=True))
    return [np.array(columns[Stroke._fields.index(name)], dtype=np.float64) for name in names]


def _mean_or_none(values: NDArray[np.float64]) -> float | None:
    return float(values.mean()) if values.size else None


def summarize(
    strokes: Sequence[Stroke],
    *,
    session_duration_s: float,
    lost_samples: int,
    incomplete_strokes: int = 0,
    bout_gap_s: float = DEFAULT_BOUT_GAP_S,
    blind_spans_s: Sequence[tuple[float, float]] = (),
) -> Summary:
    """The session summary of a list of strokes (sorted by start).

    ``blind_spans_s`` are intervals without data (see :func:`bouts_of`).
    """
    starts, ends, peaks, means, tilts, impulses = stroke_columns(
        strokes, "start_s", "end_s", "peak_force_n", "mean_force_n", "tilt_deg", "impulse_ns"
    )
    bouts = bouts_of(starts, ends, bout_gap_s=bout_gap_s, blind_spans_s=blind_spans_s)
    treatment = float(sum(b.duration_s for b in bouts))
    count = len(strokes)
    mean_peak = _mean_or_none(peaks)
    cv = None
    if count >= 2 and mean_peak:
        cv = float(peaks.std() / mean_peak)
    finite_means = means[np.isfinite(means)]
    return Summary(
        session_duration_s=float(session_duration_s),
        treatment_time_s=treatment,
        stroke_count=count,
        stroke_rate_per_min=count / treatment * 60 if treatment > 0 else None,
        mean_stroke_duration_s=_mean_or_none(ends - starts),
        mean_peak_force_n=mean_peak,
        force_cv=cv,
        lost_samples=int(lost_samples),
        bout_count=len(bouts),
        mean_force_n=_mean_or_none(finite_means),
        mean_tilt_deg=_mean_or_none(tilts),
        total_impulse_ns=float(np.nansum(impulses)) if count else 0.0,
        saturated_strokes=sum(1 for s in strokes if s.saturated),
        incomplete_strokes=int(incomplete_strokes),
    )
