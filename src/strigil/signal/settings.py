"""Thresholds of the stroke analysis. Every number here is a setting, not a constant."""

from __future__ import annotations

from dataclasses import dataclass, fields

from strigil.signal.errors import SettingsError
from strigil.signal.strokes import DEFAULT_BOUT_GAP_S

__all__ = ["AnalysisSettings", "SettingsError"]


@dataclass(frozen=True, slots=True)
class AnalysisSettings:
    """Settings of stroke segmentation (see docs/algorithms.md for what each one does)."""

    min_stroke_force_n: float = 1.0
    """A peak below this is not a stroke (resting contact, brushing)."""
    min_stroke_duration_s: float = 0.15
    """A stroke shorter than this is a knock."""
    max_stroke_duration_s: float = 6.0
    """Contact longer than this at one stretch is a hold, not a stroke."""
    boundary_fraction: float = 0.1
    """A stroke starts and ends where its force crosses this fraction of its own peak."""
    split_depth: float = 0.3
    """A dip splits two strokes when it is at least this fraction below the smaller peak."""
    bout_gap_s: float = DEFAULT_BOUT_GAP_S
    """Strokes closer than this belong to one bout."""
    smoothing_s: float = 0.08
    """Window of the Savitzky–Golay (quadratic) smoothing of force."""
    zero_block_s: float = 0.25
    """Block length over which the drift tracker judges whether the edge is off the skin."""
    zero_quiet_std_n: float = 0.05
    """A block whose force varies less than this (standard deviation) is quiet."""
    zero_margin_n: float = 0.15
    """A quiet block at most this far above the current zero is the edge off the skin."""
    zero_reset_s: float = 10.0
    """Quiet force this long at one level above the zero is taken as the new zero (an offset
    that moved up, e.g. after an overload); the zero follows any idle level below it at once."""
    max_bridged_gap_s: float = 0.5
    """Lost data up to this long is bridged by interpolation; longer gaps end strokes."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or not value > 0:
                raise SettingsError(f"{f.name} must be a positive number, not {value!r}")
        if not self.boundary_fraction < 1:
            raise SettingsError(f"boundary_fraction must be below 1, not {self.boundary_fraction}")
        if not self.split_depth < 1:
            raise SettingsError(f"split_depth must be below 1, not {self.split_depth}")
        if self.max_stroke_duration_s <= self.min_stroke_duration_s:
            raise SettingsError("max_stroke_duration_s must exceed min_stroke_duration_s")

    @property
    def region_threshold_n(self) -> float:
        """Force above which the edge is in contact: no stroke's boundary lies below it."""
        return self.boundary_fraction * self.min_stroke_force_n
