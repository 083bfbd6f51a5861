"""How a therapist's strokes are distributed over a period, and how well they keep a protocol.

The clinic dashboard and a therapist's own page show, per therapist: the distribution of peak
force, stroke duration and stroke rate (quantiles, mean, coefficient of variation) over every
stroke of the period; adherence (share of strokes in the force band, of stroke intervals in the
rate band, of sessions in the session-length band, each against that session's protocol); and
the same per ISO week, so a trend shows whether a team converges on one standard. Technique
beside force: each therapist's stroke-pattern mix and handle tilt. (Sweep speed in m/s is not
reported: the accelerometer gives it only by integration, which drifts; stroke duration and
rate are the measured pace.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from strigil.signal.patterns import pattern_counts, pattern_mix_pct
from strigil.signal.scoring import ProtocolTargets, stroke_rates_per_min
from strigil.signal.strokes import Stroke, stroke_columns

QUANTILES = (10, 25, 50, 75, 90)
FORCE_HISTOGRAM_EDGES_N = tuple(float(x) for x in np.arange(0.0, 15.5, 0.5))
"""Peak-force histogram bins, N (the last bin also holds everything above 15 N)."""


@dataclass(frozen=True, slots=True)
class SessionStrokes:
    """One finished session's strokes with what they are judged against."""

    started_at: dt.datetime
    duration_s: float
    strokes: Sequence[Stroke]
    targets: ProtocolTargets


def distribution(values: np.ndarray, unit: str) -> dict[str, object]:
    """Quantiles (p10…p90), mean and CV (population SD / mean, %) of ``values``."""
    if values.size == 0:
        return {"unit": unit, "n": 0, "mean": None, "cv_pct": None}
    mean = float(values.mean())
    out: dict[str, object] = {
        "unit": unit,
        "n": int(values.size),
        "mean": round(mean, 3),
        "cv_pct": round(float(values.std() / mean * 100), 2) if mean > 0 else None,
    }
    for q, v in zip(QUANTILES, np.percentile(values, QUANTILES), strict=True):
        out[f"p{q}"] = round(float(v), 3)
    return out


def _pct(hits: int, total: int) -> float | None:
    return round(hits / total * 100, 2) if total else None


@dataclass(frozen=True, slots=True)
class _Pooled:
    peaks_n: np.ndarray
    durations_s: np.ndarray
    rates_per_min: np.ndarray
    tilts_deg: np.ndarray
    patterns: dict[str, int]
    in_force: int
    in_rate: int
    in_length: int
    sessions: int


def _pool(sessions: Sequence[SessionStrokes]) -> _Pooled:
    peaks: list[np.ndarray] = [np.empty(0)]
    durations: list[np.ndarray] = [np.empty(0)]
    rates: list[np.ndarray] = [np.empty(0)]
    tilts: list[np.ndarray] = [np.empty(0)]
    patterns = pattern_counts(())
    in_force = in_rate = in_length = 0
    for s in sessions:
        p, starts, ends, tilt = stroke_columns(
            s.strokes, "peak_force_n", "start_s", "end_s", "tilt_deg"
        )
        tilts.append(tilt)
        for k in s.strokes:
            patterns[k.pattern] += 1
        r = stroke_rates_per_min(s.strokes, bout_gap_s=s.targets.bout_gap_s)
        peaks.append(p)
        durations.append(ends - starts)
        rates.append(r)
        f_low, f_high = s.targets.force_band_n
        r_low, r_high = s.targets.rate_band_per_min
        m_low, m_high = s.targets.session_length_band_min
        in_force += int(np.count_nonzero((p >= f_low) & (p <= f_high)))
        in_rate += int(np.count_nonzero((r >= r_low) & (r <= r_high)))
        in_length += int(m_low <= s.duration_s / 60 <= m_high)
    return _Pooled(
        np.concatenate(peaks),
        np.concatenate(durations),
        np.concatenate(rates),
        np.concatenate(tilts),
        patterns,
        in_force,
        in_rate,
        in_length,
        len(sessions),
    )


def practice_figures(sessions: Sequence[SessionStrokes]) -> dict[str, object]:
    """Distributions and adherence over these sessions (see the module's docstring)."""
    pool = _pool(sessions)
    counts, _ = np.histogram(np.minimum(pool.peaks_n, 15.0), bins=FORCE_HISTOGRAM_EDGES_N)
    return {
        "sessions": pool.sessions,
        "strokes": int(pool.peaks_n.size),
        "peak_force_n": distribution(pool.peaks_n, "N"),
        "duration_s": distribution(pool.durations_s, "s"),
        "rate_per_min": distribution(pool.rates_per_min, "1/min"),
        "tilt_deg": distribution(pool.tilts_deg, "deg"),
        "pattern_counts": pool.patterns,
        "pattern_mix_pct": pattern_mix_pct(pool.patterns),
        "pct_strokes_in_force_band": _pct(pool.in_force, int(pool.peaks_n.size)),
        "pct_intervals_in_rate_band": _pct(pool.in_rate, int(pool.rates_per_min.size)),
        "pct_sessions_in_length_band": _pct(pool.in_length, pool.sessions),
        "peak_force_histogram": {
            "edges_n": list(FORCE_HISTOGRAM_EDGES_N),
            "counts": [int(c) for c in counts],
        },
    }


def week_of(when: dt.datetime) -> dt.date:
    """The Monday starting the ISO week of ``when`` (UTC)."""
    day = when.astimezone(dt.UTC).date()
    return day - dt.timedelta(days=day.weekday())


def weekly_trend(sessions: Sequence[SessionStrokes]) -> list[dict[str, object]]:
    """Per ISO week (oldest first): strokes, mean peak force, its CV and adherence."""
    weeks: dict[dt.date, list[SessionStrokes]] = {}
    for s in sessions:
        weeks.setdefault(week_of(s.started_at), []).append(s)
    out: list[dict[str, object]] = []
    for monday in sorted(weeks):
        pool = _pool(weeks[monday])
        peaks = pool.peaks_n
        mean = float(peaks.mean()) if peaks.size else None
        out.append(
            {
                "week": monday.isoformat(),
                "sessions": pool.sessions,
                "strokes": int(peaks.size),
                "mean_peak_force_n": None if mean is None else round(mean, 3),
                "peak_force_cv_pct": round(float(peaks.std() / mean * 100), 2) if mean else None,
                "pct_strokes_in_force_band": _pct(pool.in_force, int(peaks.size)),
                "pct_intervals_in_rate_band": _pct(pool.in_rate, int(pool.rates_per_min.size)),
            }
        )
    return out
