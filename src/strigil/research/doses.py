"""The dose per body area: which strokes were given where, and for how long.

A stroke counts under the body-area segment it started in; segments are wall-clock times of
the host, placed on session time by the session's anchor.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from strigil.signal.patterns import pattern_counts
from strigil.signal.strokes import DEFAULT_BOUT_GAP_S, Stroke, bouts_of, stroke_columns
from strigil.store.models import AreaSegment, as_utc


def segment_window_s(segment: AreaSegment, anchor_ns: int) -> tuple[float, float]:
    """The segment in session time (s): start, end (inf while it is open)."""
    start = (as_utc(segment.started_at).timestamp() * 1e9 - anchor_ns) / 1e9
    end = (
        float("inf")
        if segment.ended_at is None
        else (as_utc(segment.ended_at).timestamp() * 1e9 - anchor_ns) / 1e9
    )
    return start, end


def treatment_time_s(strokes: Sequence[Stroke], bout_gap_s: float = DEFAULT_BOUT_GAP_S) -> float:
    """Sum of bout lengths (docs/tool-profile.md's treatment time) of these strokes."""
    if not strokes:
        return 0.0
    starts, ends = stroke_columns(strokes, "start_s", "end_s")
    return float(sum(b.duration_s for b in bouts_of(starts, ends, bout_gap_s=bout_gap_s)))


def stroke_segments(
    strokes: Sequence[Stroke], segments: Sequence[AreaSegment], anchor_ns: int | None
) -> list[AreaSegment | None]:
    """The body-area segment each stroke started in (None: outside every segment, or no time
    base); the first segment that holds it."""
    windows = (
        [(seg, *segment_window_s(seg, anchor_ns)) for seg in segments]
        if anchor_ns is not None
        else []
    )
    return [
        next((seg for seg, start, end in windows if start <= k.start_s < end), None)
        for k in strokes
    ]


def stroke_areas(
    strokes: Sequence[Stroke], segments: Sequence[AreaSegment], anchor_ns: int | None
) -> list[str | None]:
    """The body area each stroke started in (None: outside every segment, or no time base)."""
    return [
        None if seg is None else seg.area for seg in stroke_segments(strokes, segments, anchor_ns)
    ]


def area_doses(
    strokes: Sequence[Stroke], segments: Sequence[AreaSegment], anchor_ns: int | None
) -> list[dict[str, object]]:
    """Per body-area segment: strokes, treatment time (s), mean peak force (N) and strokes of
    each pattern (``linear_strokes`` …) of the strokes that started inside it; strokes outside
    every segment count under area ``null``."""
    groups: dict[tuple[str | None, str | None], list[Stroke]] = {}
    for k, seg in zip(strokes, stroke_segments(strokes, segments, anchor_ns), strict=True):
        key = (None, None) if seg is None else (seg.area, seg.side.value)
        groups.setdefault(key, []).append(k)
    if anchor_ns is not None:
        for seg in segments:
            groups.setdefault((seg.area, seg.side.value), [])
    out: list[dict[str, object]] = []
    for (area, side), ks in groups.items():
        peaks = [k.peak_force_n for k in ks]
        out.append(
            {
                "area": area,
                "side": side,
                "strokes": len(ks),
                "treatment_time_s": round(treatment_time_s(ks), 2),
                "mean_peak_force_n": round(float(np.mean(peaks)), 3) if peaks else None,
                **{f"{p}_strokes": n for p, n in pattern_counts(k.pattern for k in ks).items()},
            }
        )
    return out
