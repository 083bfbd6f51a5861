"""Scoring a session against a protocol's target bands, the way CPR feedback scores compressions.

CPR feedback devices report the share of compressions inside the rate and depth bands (with
feedback 83 % in the rate band against 47 % without, AHA 2015 / CPRcard studies). strigil
reports the same for IASTM: the share of strokes inside the force band, the share inside the
stroke-rate band, over-force events, and treatment time and session length against targets.

No validated therapeutic band exists, so targets are data a clinic sets. The defaults are the
descriptive figures of docs/background.md: force about 2–8 N (clinician means 1.9–8.1 N,
peaks 3–11.6 N, Baker et al. 2024; J Athl Train 2023), 1–5 min per treated area and total
IASTM time per visit 14.5 ± 14.7 min (Cheatham et al. 2021), sessions of 30–45 min (clinic
practice articles, not a trial figure), stroke rate 15–60 per minute (instrumented prototypes
guided 0.25–1.0 Hz, Everingham et al. 2019).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from strigil.signal.strokes import (
    DEFAULT_BOUT_GAP_S,
    PATTERNS,
    Stroke,
    Summary,
    rounded_json,
    stroke_columns,
)

BandStatus = Literal["below", "within", "above"]
ANY_AREA = "*"
"""The key of :attr:`ProtocolTargets.expected_patterns` for every area not named."""


@dataclass(frozen=True, slots=True)
class ProtocolTargets:
    """Target bands of a treatment protocol (each a closed interval, low ≤ high)."""

    force_band_n: tuple[float, float] = (2.0, 8.0)
    rate_band_per_min: tuple[float, float] = (15.0, 60.0)
    treatment_time_band_s: tuple[float, float] = (60.0, 300.0)
    """Treatment time per body area."""
    session_length_band_min: tuple[float, float] = (30.0, 45.0)
    bout_gap_s: float = DEFAULT_BOUT_GAP_S
    expected_patterns: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(body area, the stroke patterns expected there) pairs; area ``*`` for every area not
    named (and strokes outside every area). Empty: the protocol names no pattern."""

    def expected_for(self, area: str | None) -> tuple[str, ...] | None:
        """The patterns expected in ``area`` (names compared ignoring case), or None."""
        fallback = None
        for name, patterns in self.expected_patterns:
            if area is not None and name.casefold() == area.casefold():
                return patterns
            if name == ANY_AREA:
                fallback = patterns
        return fallback

    def __post_init__(self) -> None:
        for area, patterns in self.expected_patterns:
            unknown = [p for p in patterns if p not in PATTERNS or p == "unknown"]
            if not patterns or unknown:
                raise ValueError(
                    f"the patterns expected in {area!r} must be some of "
                    f"{', '.join(PATTERNS[:-1])}, not {list(patterns)}"
                )
        for name in (
            "force_band_n",
            "rate_band_per_min",
            "treatment_time_band_s",
            "session_length_band_min",
        ):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"{name} must be a band 0 ≤ low ≤ high, not ({low}, {high})")


def band_status(value: float, band: tuple[float, float]) -> BandStatus:
    if value < band[0]:
        return "below"
    if value > band[1]:
        return "above"
    return "within"


@dataclass(frozen=True, slots=True)
class ProtocolScore:
    strokes_scored: int
    pct_in_force_band: float | None
    pct_below_force_band: float | None
    pct_above_force_band: float | None
    over_force_events: int
    """Strokes whose peak exceeded the top of the force band."""
    rate_strokes_scored: int
    """Strokes with a predecessor in the same bout (the first of a bout has no rate)."""
    pct_in_rate_band: float | None
    treatment_time_s: float
    treatment_time_target_s: tuple[float, float]
    treatment_time_status: BandStatus
    session_length_min: float
    session_length_status: BandStatus
    pattern_strokes_scored: int = 0
    """Strokes in an area where the protocol expects patterns, ``unknown`` ones apart."""
    pct_expected_pattern: float | None = None
    """% of those strokes whose pattern is one the protocol expects in their area."""
    unknown_pattern_strokes: int = 0
    """Strokes in such areas whose pattern could not be told (not scored either way)."""

    def to_json(self) -> dict[str, object]:
        return rounded_json(self, digits=2)


def stroke_rates_per_min(strokes: Sequence[Stroke], *, bout_gap_s: float) -> np.ndarray:
    """Instantaneous stroke rate of each stroke that follows another in the same bout.

    Rate = 60 / (start − previous start); a stroke after a pause of ``bout_gap_s`` or more
    starts a bout and has none.
    """
    starts, ends = stroke_columns(strokes, "start_s", "end_s")
    if starts.size < 2:
        return np.empty(0)
    same_bout = (starts[1:] - ends[:-1]) < bout_gap_s
    intervals = np.diff(starts)[same_bout]
    rates: np.ndarray = 60.0 / intervals
    return rates


def _pct(mask: np.ndarray) -> float | None:
    return float(mask.mean() * 100) if mask.size else None


def score_session(
    strokes: Sequence[Stroke],
    summary: Summary,
    targets: ProtocolTargets | None = None,
    *,
    body_areas: int = 1,
    stroke_areas: Sequence[str | None] | None = None,
) -> ProtocolScore:
    """Score a session; the treatment-time target scales with the number of body areas.

    ``stroke_areas`` is the body area each stroke started in (None: outside every area); the
    pattern adherence uses it. Without it, every stroke is judged by the ``*`` expectation.
    """
    tg = targets if targets is not None else ProtocolTargets()
    expected_hits = expected_scored = unknown = 0
    if tg.expected_patterns:
        areas = stroke_areas if stroke_areas is not None else [None] * len(strokes)
        for k, area in zip(strokes, areas, strict=True):
            wanted = tg.expected_for(area)
            if wanted is None:
                continue
            if k.pattern == "unknown":
                unknown += 1
                continue
            expected_scored += 1
            expected_hits += k.pattern in wanted
    [peaks] = stroke_columns(strokes, "peak_force_n")
    low, high = tg.force_band_n
    rates = stroke_rates_per_min(strokes, bout_gap_s=tg.bout_gap_s)
    rate_low, rate_high = tg.rate_band_per_min
    treat_band = (
        tg.treatment_time_band_s[0] * body_areas,
        tg.treatment_time_band_s[1] * body_areas,
    )
    minutes = summary.session_duration_s / 60
    return ProtocolScore(
        strokes_scored=int(peaks.size),
        pct_in_force_band=_pct((peaks >= low) & (peaks <= high)),
        pct_below_force_band=_pct(peaks < low),
        pct_above_force_band=_pct(peaks > high),
        over_force_events=int(np.count_nonzero(peaks > high)),
        rate_strokes_scored=int(rates.size),
        pct_in_rate_band=_pct((rates >= rate_low) & (rates <= rate_high)),
        treatment_time_s=summary.treatment_time_s,
        treatment_time_target_s=treat_band,
        treatment_time_status=band_status(summary.treatment_time_s, treat_band),
        session_length_min=minutes,
        session_length_status=band_status(minutes, tg.session_length_band_min),
        pattern_strokes_scored=expected_scored,
        pct_expected_pattern=expected_hits / expected_scored * 100 if expected_scored else None,
        unknown_pattern_strokes=unknown,
    )
