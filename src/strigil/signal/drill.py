"""Scoring a practice drill: a set of strokes aimed at one target force and one target rate.

A drill is what a CPR manikin session is to compressions: the therapist makes, say, 20 strokes
at 5 N and 60 per minute with live feedback, then gets a score. The score is deliberately
plain so staff can compare themselves over weeks:

- a stroke is **on force** when its peak is within ``tolerance_pct`` of the target force;
- an interval between two consecutive strokes of the same bout is **on rate** when its
  instantaneous rate (60 / start-to-start interval) is within ``tolerance_pct`` of the target;
- a drill may also target a stroke pattern (a J-stroke drill): a stroke is **on pattern** when
  the analysis classified it as that pattern;
- ``score`` (0–100) is the mean of the shares (force, rate, and pattern when targeted), times
  the fraction of the set completed.

Only the first ``target_strokes`` strokes count: strokes after the set are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from strigil.signal.scoring import stroke_rates_per_min
from strigil.signal.strokes import (
    DEFAULT_BOUT_GAP_S,
    PATTERNS,
    Stroke,
    rounded_json,
    stroke_columns,
)


@dataclass(frozen=True, slots=True)
class DrillTarget:
    force_n: float
    rate_per_min: float
    strokes: int
    tolerance_pct: float = 20.0
    pattern: str | None = None
    """The stroke pattern the set practises (None: any)."""

    def __post_init__(self) -> None:
        if self.pattern is not None and (self.pattern not in PATTERNS or self.pattern == "unknown"):
            raise ValueError(f"a drill's pattern must be one of {', '.join(PATTERNS[:-1])}")
        if not (self.force_n > 0 and self.rate_per_min > 0 and self.strokes > 0):
            raise ValueError("a drill needs a positive target force, rate and stroke count")
        if not 0 < self.tolerance_pct < 100:
            raise ValueError(f"tolerance_pct must be between 0 and 100, not {self.tolerance_pct}")

    @property
    def force_band_n(self) -> tuple[float, float]:
        k = self.tolerance_pct / 100
        return (self.force_n * (1 - k), self.force_n * (1 + k))

    @property
    def rate_band_per_min(self) -> tuple[float, float]:
        k = self.tolerance_pct / 100
        return (self.rate_per_min * (1 - k), self.rate_per_min * (1 + k))


@dataclass(frozen=True, slots=True)
class DrillScore:
    strokes_done: int
    complete: bool
    pct_force_on_target: float | None
    mean_peak_force_n: float | None
    force_error_pct: float | None
    """Mean signed error of the peak force against the target, % of the target."""
    force_cv_pct: float | None
    rate_intervals: int
    pct_rate_on_target: float | None
    mean_rate_per_min: float | None
    """Mean of the instantaneous rates (strokes following another in the same bout)."""
    pct_pattern_on_target: float | None
    """% of the strokes classified as the targeted pattern (None when no pattern is targeted)."""
    score: float
    """0–100: mean of the on-force and on-rate shares, times the fraction of the set done."""

    def to_json(self) -> dict[str, object]:
        return rounded_json(self, digits=2)


def score_drill(
    strokes: Sequence[Stroke], target: DrillTarget, *, bout_gap_s: float = DEFAULT_BOUT_GAP_S
) -> DrillScore:
    done = sorted(strokes, key=lambda k: k.start_s)[: target.strokes]
    [peaks] = stroke_columns(done, "peak_force_n")
    rates = stroke_rates_per_min(done, bout_gap_s=bout_gap_s)
    f_low, f_high = target.force_band_n
    r_low, r_high = target.rate_band_per_min
    on_force = float(np.mean((peaks >= f_low) & (peaks <= f_high)) * 100) if peaks.size else None
    on_rate = float(np.mean((rates >= r_low) & (rates <= r_high)) * 100) if rates.size else None
    on_pattern = None
    if target.pattern is not None and done:
        on_pattern = sum(k.pattern == target.pattern for k in done) / len(done) * 100
    shares = [v for v in (on_force, on_rate) if v is not None]
    parts = 2
    if target.pattern is not None:
        shares.append(on_pattern or 0.0)
        parts = 3
    completion = min(len(done) / target.strokes, 1.0)
    mean_peak = float(peaks.mean()) if peaks.size else None
    return DrillScore(
        strokes_done=len(done),
        complete=len(done) >= target.strokes,
        pct_force_on_target=on_force,
        mean_peak_force_n=mean_peak,
        force_error_pct=None
        if mean_peak is None
        else float(np.mean(peaks - target.force_n) / target.force_n * 100),
        force_cv_pct=float(peaks.std() / peaks.mean() * 100) if peaks.size > 1 else None,
        rate_intervals=int(rates.size),
        pct_rate_on_target=on_rate,
        mean_rate_per_min=float(rates.mean()) if rates.size else None,
        pct_pattern_on_target=on_pattern,
        score=(sum(shares) / parts if shares else 0.0) * completion,
    )
