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
    knock_window_s: float = 0.1
    """Window of the running median that knocks are measured against; a spike lasting up to
    half of it (a knock: 10–40 ms) stands out of the median and is cut away."""
    knock_min_n: float = 1.5
    """A spike this far above the running median may be a knock …"""
    knock_fraction: float = 0.3
    """… if it is also at least this fraction of the median force beneath it (a stroke's own
    smooth peak never stands this far out of a 0.1-s median)."""
    knock_shoulder_n: float = 0.3
    """The knock's flanks, down to this far above the median, are cut with it."""
    hook_min_turn_deg: float = 20.0
    """A J-stroke turns about the tool's z axis by at least this much, …"""
    late_turn_share: float = 0.5
    """… more than this share of the turn in the stroke's last third; fanning at most this."""
    fan_min_turn_deg: float = 30.0
    """A fanning stroke turns about the tool's z axis by at least this much."""
    straight_max_turn_deg: float = 12.0
    """A linear or strumming stroke turns less than this; a turn between this and the hook or
    fan threshold is weak evidence, and the pattern is ``unknown``."""
    gyro_quiet_dps: float = 1.5
    """A block (``zero_block_s``) whose z rate varies less than this (standard deviation) is
    still: its mean rate is a sample of the gyroscope's bias."""
    gyro_bias_max_dps: float = 5.0
    """A still block's mean rate is taken as the bias only if it is at most this far from 0."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or not value > 0:
                raise SettingsError(f"{f.name} must be a positive number, not {value!r}")
        if not self.boundary_fraction < 1:
            raise SettingsError(f"boundary_fraction must be below 1, not {self.boundary_fraction}")
        if not self.split_depth < 1:
            raise SettingsError(f"split_depth must be below 1, not {self.split_depth}")
        if not self.late_turn_share < 1:
            raise SettingsError(f"late_turn_share must be below 1, not {self.late_turn_share}")
        if not self.straight_max_turn_deg < min(self.hook_min_turn_deg, self.fan_min_turn_deg):
            raise SettingsError(
                "straight_max_turn_deg must be below hook_min_turn_deg and fan_min_turn_deg"
            )
        if self.max_stroke_duration_s <= self.min_stroke_duration_s:
            raise SettingsError("max_stroke_duration_s must exceed min_stroke_duration_s")

    @property
    def region_threshold_n(self) -> float:
        """Force above which the edge is in contact: no stroke's boundary lies below it."""
        return self.boundary_fraction * self.min_stroke_force_n
