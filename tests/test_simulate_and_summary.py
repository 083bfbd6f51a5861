"""The simulator is realistic and reproducible; summaries and scores follow their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strigil.signal.scoring import ProtocolTargets, band_status, score_session, stroke_rates_per_min
from strigil.signal.simulate import SCENARIOS, simulate_session
from strigil.signal.strokes import Stroke, bouts_of, summarize


def stroke(start: float, end: float, peak: float = 5.0) -> Stroke:
    return Stroke(start, end, peak, peak / 1.5, peak / 1.5 * (end - start), None, 45.0, "pull")


def test_same_seed_same_session_other_seed_other_session() -> None:
    a = simulate_session(minutes=1, seed=11, rate_hz=200)
    b = simulate_session(minutes=1, seed=11, rate_hz=200)
    c = simulate_session(minutes=1, seed=12, rate_hz=200)
    np.testing.assert_array_equal(a.force_n, b.force_n)
    np.testing.assert_array_equal(a.acc_g, b.acc_g)
    assert a.true_strokes == b.true_strokes
    assert a.force_n.shape != c.force_n.shape or not np.array_equal(a.force_n, c.force_n)


@pytest.mark.parametrize("rate_hz", [100.0, 200.0, 1000.0])
def test_sample_rate_and_resolution(rate_hz: float) -> None:
    s = simulate_session(minutes=1, seed=1, rate_hz=rate_hz, scenario="lifted")
    steps = np.diff(s.t_s)
    assert np.median(steps) == pytest.approx(1 / rate_hz)
    np.testing.assert_allclose(s.force_n * 100, np.round(s.force_n * 100), atol=1e-6)


def test_imu_is_gravity_plus_stroke_motion_in_tool_axes() -> None:
    s = simulate_session(minutes=2, seed=3, rate_hz=200, scenario="lifted")
    magnitude = np.linalg.norm(s.acc_g, axis=1)
    assert np.median(magnitude) == pytest.approx(1.0, abs=0.01)  # mostly gravity
    # along the stroke, in the skin plane: a = ax·cosθ − az·sinθ (gravity cancels)
    along = []
    for t in s.true_strokes:
        th = math.radians(t.tilt_deg)
        inside = (s.t_s >= t.start_s) & (s.t_s <= t.end_s)
        a = s.acc_g[inside, 0] * math.cos(th) - s.acc_g[inside, 2] * math.sin(th)
        along.append(np.abs(a).max() * 9.80665)
    assert 0.5 < np.median(along) < 10  # a few m/s²
    tilt = np.degrees(np.arctan2(s.acc_g[:, 0], np.hypot(s.acc_g[:, 1], s.acc_g[:, 2])))
    truth_tilts = [t.tilt_deg for t in s.true_strokes]
    assert 20 < np.median(tilt) < 85
    assert min(truth_tilts) > 15
    assert max(truth_tilts) < 90


def test_scenarios_contain_what_they_say() -> None:
    minutes = 4
    strum = simulate_session(minutes=minutes, seed=2, scenario="strumming")
    assert sum(t.pattern == "strumming" for t in strum.true_strokes) > 0.7 * len(strum.true_strokes)
    touching = sum(
        math.isclose(a.end_s, b.start_s)
        for a, b in zip(strum.true_strokes, strum.true_strokes[1:], strict=False)
    )
    assert touching > 50  # strokes joined at a dip, the edge never lifted
    js = simulate_session(minutes=minutes, seed=2, scenario="j_strokes")
    assert np.abs(js.gyr_dps[:, 2]).max() > 40  # the hook turns the tool about its normal
    assert len(simulate_session(minutes=minutes, seed=2, scenario="resting").rests_s) >= 3
    assert len(simulate_session(minutes=minutes, seed=2, scenario="knocks").knocks_s) >= 10
    sat = simulate_session(minutes=minutes, seed=2, scenario="saturation")
    assert sat.force_n.max() == pytest.approx(SCENARIOS["saturation"].force_limit_n)
    assert any(t.saturated for t in sat.true_strokes)
    lossy = simulate_session(minutes=minutes, seed=2, scenario="lossy")
    assert lossy.lost_samples > 0
    assert max(b - a for a, b in lossy.lost_intervals_s) > 1.0  # a disconnect of seconds
    light = simulate_session(minutes=minutes, seed=2, scenario="light")
    assert np.median([t.peak_force_n for t in light.true_strokes]) < 3.0


def test_each_therapist_has_their_own_force_and_variability() -> None:
    peaks = []
    cvs = []
    for seed in range(6):
        s = simulate_session(minutes=2, seed=seed, scenario="lifted")
        p = np.array([t.peak_force_n for t in s.true_strokes])
        peaks.append(p.mean())
        cvs.append(p.std() / p.mean())
    assert max(peaks) / min(peaks) > 1.5
    assert all(0.04 < cv < 0.4 for cv in cvs)


def test_truth_strokes_obey_the_definition() -> None:
    s = simulate_session(minutes=3, seed=8, scenario="mixed")
    for t in s.true_strokes:
        assert t.duration_s >= 0.15
        assert t.peak_force_n >= 1.0
    starts = [t.start_s for t in s.true_strokes]
    assert starts == sorted(starts)


def test_bouts_treatment_time_and_rate() -> None:
    strokes = [
        stroke(0, 0.5),
        stroke(1.0, 1.5),
        stroke(2.0, 2.5),
        stroke(10, 10.5),
        stroke(11, 11.4),
    ]
    summary = summarize(strokes, session_duration_s=20.0, lost_samples=3)
    assert summary.bout_count == 2
    assert summary.treatment_time_s == pytest.approx(2.5 + 1.4)
    assert summary.stroke_rate_per_min == pytest.approx(5 / 3.9 * 60)
    assert summary.mean_stroke_duration_s == pytest.approx((0.5 * 4 + 0.4) / 5)
    assert summary.lost_samples == 3
    peaks = summarize(
        [stroke(0, 0.5, 4.0), stroke(1, 1.5, 6.0)], session_duration_s=2.0, lost_samples=0
    )
    assert peaks.force_cv == pytest.approx(1.0 / 5.0)


def test_a_pause_of_exactly_two_seconds_ends_a_bout() -> None:
    starts = np.array([0.0, 2.5, 4.4])
    ends = np.array([0.5, 3.0, 5.0])
    assert len(bouts_of(starts, ends, bout_gap_s=2.0)) == 2  # 2.0 s gap ends, 1.4 s does not


def test_lost_data_is_not_a_pause() -> None:
    starts = np.array([0.0, 4.0])
    ends = np.array([0.5, 4.5])
    assert len(bouts_of(starts, ends, bout_gap_s=2.0)) == 2
    assert len(bouts_of(starts, ends, bout_gap_s=2.0, blind_spans_s=[(1.0, 3.0)])) == 1


def test_protocol_score_counts_like_cpr_feedback() -> None:
    strokes = [
        stroke(0.0, 0.5, 1.5),  # below the 2–8 N band
        stroke(1.0, 1.5, 5.0),  # 60/min after the previous start
        stroke(2.0, 2.5, 9.0),  # over-force
        stroke(5.0, 5.5, 4.0),  # new bout: no rate
        stroke(5.5, 6.0, 4.0),  # 120/min: above the 15–60 band
    ]
    summary = summarize(strokes, session_duration_s=40 * 60, lost_samples=0)
    sc = score_session(strokes, summary)
    assert sc.strokes_scored == 5
    assert sc.pct_in_force_band == pytest.approx(60.0)
    assert sc.pct_below_force_band == pytest.approx(20.0)
    assert sc.over_force_events == 1
    assert sc.rate_strokes_scored == 3
    assert sc.pct_in_rate_band == pytest.approx(200 / 3)
    assert sc.session_length_status == "within"
    assert sc.treatment_time_status == "below"  # 3.5 s against 60–300 s
    assert score_session(strokes, summary, body_areas=3).treatment_time_target_s == (180.0, 900.0)


def test_rates_and_bands() -> None:
    rates = stroke_rates_per_min([stroke(0, 0.4), stroke(0.5, 0.9), stroke(5, 5.4)], bout_gap_s=2)
    np.testing.assert_allclose(rates, [120.0])
    assert band_status(1.0, (2.0, 8.0)) == "below"
    assert band_status(8.0, (2.0, 8.0)) == "within"
    assert band_status(8.1, (2.0, 8.0)) == "above"
    with pytest.raises(ValueError, match="force_band_n"):
        ProtocolTargets(force_band_n=(8.0, 2.0))
