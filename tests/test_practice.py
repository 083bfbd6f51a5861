"""Drill scoring and practice figures: pure functions against hand-built strokes and against the
simulator's ground truth."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from strigil.signal.analyzer import analyze_arrays
from strigil.signal.drill import DrillTarget, score_drill
from strigil.signal.practice import SessionStrokes, practice_figures, week_of, weekly_trend
from strigil.signal.scoring import ProtocolTargets
from strigil.signal.simulate import SCENARIOS, Therapist, simulate_session
from strigil.signal.strokes import Stroke


def strokes_at(
    peaks: list[float], *, every_s: float = 1.0, duration_s: float = 0.4
) -> list[Stroke]:
    return [
        Stroke(
            i * every_s, i * every_s + duration_s, p, p / 2, p * duration_s / 2, None, 45.0, "pull"
        )
        for i, p in enumerate(peaks)
    ]


def test_a_drill_scores_force_and_rate_shares_times_completion() -> None:
    target = DrillTarget(force_n=5.0, rate_per_min=60.0, strokes=10, tolerance_pct=20.0)
    assert target.force_band_n == pytest.approx((4.0, 6.0))
    score = score_drill(strokes_at([5.0, 5.5, 3.9, 6.1, 4.0]), target)
    assert score.strokes_done == 5
    assert not score.complete
    assert score.pct_force_on_target == pytest.approx(60.0)  # 3.9 and 6.1 miss
    assert score.pct_rate_on_target == pytest.approx(100.0)  # one stroke a second: 60 /min
    assert score.mean_rate_per_min == pytest.approx(60.0)
    assert score.force_error_pct == pytest.approx((24.5 / 5 - 5) / 5 * 100)
    assert score.score == pytest.approx((60 + 100) / 2 * 0.5)  # half the set


def test_a_drill_counts_only_its_set_and_judges_rate_within_bouts() -> None:
    target = DrillTarget(force_n=5.0, rate_per_min=60.0, strokes=4)
    slow = strokes_at([5.0] * 6, every_s=1.6)  # 37.5 /min: off a 48-72 band
    score = score_drill(slow, target)
    assert score.strokes_done == 4
    assert score.complete
    assert score.rate_intervals == 3
    assert score.pct_rate_on_target == 0.0
    assert score.score == pytest.approx(50.0)
    paused = strokes_at([5.0, 5.0]) + [
        s._replace(start_s=s.start_s + 10, end_s=s.end_s + 10) for s in strokes_at([5.0, 5.0])
    ]
    assert score_drill(paused, target).rate_intervals == 2  # the pause starts a new bout


def test_bad_drill_targets_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        DrillTarget(force_n=0.0, rate_per_min=60.0, strokes=10)
    with pytest.raises(ValueError, match="tolerance"):
        DrillTarget(force_n=5.0, rate_per_min=60.0, strokes=10, tolerance_pct=100.0)


@pytest.mark.parametrize("seed", [3, 8, 21])
def test_a_drill_scored_from_the_analysis_matches_its_ground_truth(seed: int) -> None:
    scenario = SCENARIOS["lifted"]
    th = Therapist(peak_force_n=5.0, peak_cv=0.15, contact_s=0.55, lift_s=0.5, tilt_deg=50.0)
    sim = simulate_session(minutes=1.0, seed=seed, rate_hz=200, scenario=scenario, therapist=th)
    found = analyze_arrays(sim.t_s, sim.force_n, sim.acc_g, rate_hz=200).strokes
    target = DrillTarget(force_n=5.0, rate_per_min=60.0, strokes=30)
    truth = score_drill(sim.truth_strokes_as_analysis(), target)
    measured = score_drill(found, target)
    assert measured.strokes_done == truth.strokes_done == 30
    assert measured.pct_force_on_target == pytest.approx(truth.pct_force_on_target, abs=7)
    assert measured.mean_peak_force_n == pytest.approx(truth.mean_peak_force_n, rel=0.03)
    assert measured.mean_rate_per_min == pytest.approx(truth.mean_rate_per_min, rel=0.03)


def session(start: dt.datetime, peaks: list[float], minutes: float = 35.0) -> SessionStrokes:
    return SessionStrokes(start, minutes * 60, strokes_at(peaks), ProtocolTargets())


def test_practice_figures_pool_every_stroke_and_judge_each_against_its_protocol() -> None:
    monday = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
    a = session(monday, [3.0, 5.0, 9.0])
    b = SessionStrokes(
        monday + dt.timedelta(days=8),
        10 * 60,
        strokes_at([2.5, 4.0], every_s=0.5),
        ProtocolTargets(force_band_n=(3.0, 5.0), rate_band_per_min=(100.0, 130.0)),
    )
    f = practice_figures([a, b])
    peaks = np.array([3.0, 5.0, 9.0, 2.5, 4.0])
    assert f["strokes"] == 5
    assert f["peak_force_n"]["p50"] == pytest.approx(np.percentile(peaks, 50))
    assert f["peak_force_n"]["cv_pct"] == pytest.approx(peaks.std() / peaks.mean() * 100, abs=0.01)
    assert f["pct_strokes_in_force_band"] == pytest.approx(60.0)  # 3, 5 in 2-8; 4 in 3-5
    # intervals: a has 2 at 60 /min (in 15-60); b has 1 at 120 /min (in 100-130)
    assert f["pct_intervals_in_rate_band"] == pytest.approx(100.0)
    assert f["pct_sessions_in_length_band"] == pytest.approx(50.0)
    assert sum(f["peak_force_histogram"]["counts"]) == 5
    weeks = weekly_trend([b, a])
    assert [w["week"] for w in weeks] == ["2026-11-02", "2026-11-09"]
    assert weeks[0]["mean_peak_force_n"] == pytest.approx(17 / 3, abs=1e-3)
    assert week_of(dt.datetime(2026, 11, 8, 23, 30, tzinfo=dt.UTC)).isoformat() == "2026-11-02"


def test_practice_figures_of_nothing_are_empty_not_errors() -> None:
    f = practice_figures([])
    assert f["strokes"] == 0
    assert f["peak_force_n"]["mean"] is None
    assert f["pct_strokes_in_force_band"] is None
    assert weekly_trend([]) == []
