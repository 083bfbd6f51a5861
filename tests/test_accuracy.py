"""Accuracy against the simulator's ground truth, over many seeds, every scenario and rates.

Targets (issue 2): F1 ≥ 0.99, mean duration error ≤ 40 ms, median peak error ≤ 3 %,
stroke count within 2 %, treatment time within 5 %.
"""

from __future__ import annotations

import numpy as np
import pytest

from strigil.signal.accuracy import match_strokes, score
from strigil.signal.analyzer import Analysis, StrokeAnalyzer, analyze_arrays
from strigil.signal.settings import AnalysisSettings
from strigil.signal.simulate import SCENARIOS, SimulatedSession, simulate_session

RATES_HZ = (50.0, 100.0, 200.0, 1000.0)
SEEDS = range(6)


def analyse(session: SimulatedSession, settings: AnalysisSettings | None = None) -> Analysis:
    """The offline analysis of a simulated session, with its gyroscope and force limit."""
    return analyze_arrays(
        session.t_s,
        session.force_n,
        session.acc_g,
        session.gyr_dps,
        rate_hz=session.rate_hz,
        force_limit_n=session.scenario.force_limit_n,
        settings=settings,
    )


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_accuracy_targets_in_every_scenario(scenario: str) -> None:
    rows = []
    for seed in SEEDS:
        rate = RATES_HZ[seed % len(RATES_HZ)]
        session = simulate_session(minutes=3, seed=1000 + seed, rate_hz=rate, scenario=scenario)
        result = analyse(session)
        acc = score(
            result.strokes,
            session.truth_strokes_as_analysis(),
            blind_spans_s=session.lost_intervals_s,
            detected_treatment_time_s=result.summary.treatment_time_s,
        )
        rows.append((seed, rate, acc))
    report = "\n".join(f"seed {s} {r:g} Hz {a.as_row()}" for s, r, a in rows)
    for _, _, acc in rows:
        assert acc.true_count > 50, report
        assert acc.f1 >= 0.99, report
        assert acc.mean_abs_duration_error_s <= 0.040, report
        assert acc.median_abs_peak_error_frac <= 0.03, report
        assert abs(acc.count_error_frac) <= 0.02, report
        assert abs(acc.treatment_time_error_frac) <= 0.05, report


@pytest.mark.parametrize("seed", range(4))
def test_lost_data_neither_invents_nor_splits_strokes(seed: int) -> None:
    session = simulate_session(minutes=4, seed=seed, rate_hz=200, scenario="lossy")
    assert session.lost_samples > 0
    result = analyse(session)
    truth = session.truth_strokes_as_analysis()
    starts = np.array([s.start_s for s in truth])
    ends = np.array([s.end_s for s in truth])
    for d in result.strokes:
        overlap = np.minimum(ends, d.end_s) - np.maximum(starts, d.start_s)
        # invented: a detection that covers no true stroke for most of its length
        assert overlap.max() >= 0.5 * d.duration_s, f"invented stroke {d}"
    for t0, t1 in zip(starts, ends, strict=True):
        covering = [
            d
            for d in result.strokes
            if min(d.end_s, t1) - max(d.start_s, t0) >= 0.5 * (d.end_s - d.start_s)
        ]
        assert len(covering) <= 1, f"true stroke {t0:.3f}–{t1:.3f} split into {covering}"


@pytest.mark.parametrize(
    ("scenario", "rate_hz"),
    [("mixed", 200.0), ("lossy", 100.0), ("strumming", 1000.0), ("hard_hands", 50.0)],
)
def test_streaming_in_random_chunks_gives_the_offline_strokes(
    scenario: str, rate_hz: float
) -> None:
    session = simulate_session(minutes=2, seed=5, rate_hz=rate_hz, scenario=scenario)
    offline = analyse(session)
    rng = np.random.default_rng(0)
    for batch_s in (0.0, 0.25, 1.0):
        analyzer = StrokeAnalyzer(
            rate_hz=rate_hz, force_limit_n=session.scenario.force_limit_n, batch_s=batch_s
        )
        streamed = []
        i = 0
        n = session.t_s.size
        while i < n:
            k = int(rng.integers(1, 80))
            streamed += analyzer.feed(
                session.t_s[i : i + k],
                session.force_n[i : i + k],
                session.acc_g[i : i + k],
                session.gyr_dps[i : i + k],
            )
            i += k
        streamed += analyzer.finish()
        assert len(streamed) == len(offline.strokes)
        got = np.array([[s.start_s, s.end_s, s.peak_force_n, s.impulse_ns] for s in streamed])
        want = np.array(
            [[s.start_s, s.end_s, s.peak_force_n, s.impulse_ns] for s in offline.strokes]
        )
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
        assert [s.direction for s in streamed] == [s.direction for s in offline.strokes]
        assert [s.pattern for s in streamed] == [s.pattern for s in offline.strokes]
        np.testing.assert_allclose(
            [s.turn_deg for s in streamed], [s.turn_deg for s in offline.strokes], atol=1e-9
        )
        summary = analyzer.summary()
        assert summary.stroke_count == offline.summary.stroke_count
        assert summary.lost_samples == offline.summary.lost_samples
        assert summary.treatment_time_s == pytest.approx(offline.summary.treatment_time_s)


def test_streaming_reports_a_lifted_stroke_soon_after_it_ends() -> None:
    session = simulate_session(minutes=1, seed=2, rate_hz=200, scenario="lifted")
    analyzer = StrokeAnalyzer(rate_hz=200, batch_s=0.1)
    delays = []
    for i in range(0, session.t_s.size, 16):
        for s in analyzer.feed(
            session.t_s[i : i + 16], session.force_n[i : i + 16], session.acc_g[i : i + 16]
        ):
            delays.append(session.t_s[min(i + 15, session.t_s.size - 1)] - s.end_s)
    assert delays
    assert max(delays) < 0.4, max(delays)


def test_matching_requires_half_the_union() -> None:
    from strigil.signal.strokes import Stroke

    def st(a: float, b: float) -> Stroke:
        return Stroke(a, b, 5.0, 3.0, 1.0, None, 45.0, "pull")

    assert match_strokes([st(0.0, 1.0)], [st(0.0, 1.0)]) == [(0, 0)]
    assert match_strokes([st(0.0, 1.0)], [st(0.5, 1.5)]) == []  # IoU 1/3
    assert match_strokes([st(0.0, 1.0)], [st(0.2, 1.0)]) == [(0, 0)]  # IoU 0.8
