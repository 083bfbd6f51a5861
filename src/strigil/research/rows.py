"""Rows of the strokes table from a session's strokes: index, bout, area, flags, rate.

Light on imports (signal only): ``strigil analyze`` uses it for many files at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strigil.signal.scoring import ProtocolTargets
from strigil.signal.strokes import Stroke, bout_indices, stroke_columns


def stroke_rows(
    session_id: str | None,
    strokes: Sequence[Stroke],
    *,
    blind_spans_s: Sequence[tuple[float, float]],
    windows: Sequence[tuple[Any, float, float]] = (),
    targets: ProtocolTargets,
) -> list[dict[str, Any]]:
    """The strokes table's rows (``research.schema.STROKES``) of one session's strokes
    (sorted by start). ``blind_spans_s``: where samples are missing; ``windows``: body-area
    segments as (segment, start_s, end_s)."""
    if not strokes:
        return []
    starts, ends = stroke_columns(strokes, "start_s", "end_s")
    blind = list(blind_spans_s)
    bouts = bout_indices(starts, ends, bout_gap_s=targets.bout_gap_s, blind_spans_s=blind)
    low, high = targets.force_band_n
    rate_low, rate_high = targets.rate_band_per_min
    rows = []
    for i, k in enumerate(strokes):
        rate = None
        if i > 0 and starts[i] - ends[i - 1] < targets.bout_gap_s:  # scoring's rule
            rate = 60.0 / float(starts[i] - starts[i - 1])
        where = next(((seg, a, b) for seg, a, b in windows if a <= k.start_s < b), None)
        rows.append(
            {
                "session_id": session_id,
                "stroke_index": i,
                "bout_index": int(bouts[i]),
                "start_s": k.start_s,
                "end_s": k.end_s,
                "duration_s": k.duration_s,
                "peak_force_n": k.peak_force_n,
                "stroke_mean_force_n": k.mean_force_n,
                "impulse_ns": k.impulse_ns,
                "mean_pressure_kpa": k.mean_pressure_kpa,
                "tilt_deg": k.tilt_deg,
                "direction": k.direction,
                "pattern": k.pattern,
                "turn_deg": k.turn_deg,
                "saturated": k.saturated,
                "incomplete": any(a < k.end_s and b > k.start_s for a, b in blind),
                "area": where[0].area if where else None,
                "side": where[0].side.value if where else None,
                "in_force_band": bool(low <= k.peak_force_n <= high),
                "rate_per_min": rate,
                "in_rate_band": rate is not None and rate_low <= rate <= rate_high,
            }
        )
    return rows
