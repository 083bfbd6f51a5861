"""Stroke analysis on synthetic signals with answers known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strigil.signal.analyzer import StrokeAnalyzer, analyze_arrays
from strigil.signal.errors import SignalInputError
from strigil.signal.settings import AnalysisSettings, SettingsError
from strigil.signal.smoothing import savgol_smoothing_coeffs

RATE_HZ = 200.0


def timeline(duration_s: float, rate_hz: float = RATE_HZ) -> np.ndarray:
    return np.arange(round(duration_s * rate_hz)) / rate_hz


def hann_stroke(t: np.ndarray, start_s: float, length_s: float, peak_n: float) -> np.ndarray:
    """Force of one stroke: sin² from 0 up to ``peak_n`` and back over ``length_s``."""
    u = (t - start_s) / length_s
    inside = (u > 0) & (u < 1)
    return np.where(inside, peak_n * np.sin(np.pi * np.clip(u, 0, 1)) ** 2, 0.0)


def level_acc(t: np.ndarray, tilt_deg: float = 45.0) -> np.ndarray:
    th = math.radians(tilt_deg)
    return np.tile([math.sin(th), 0.0, math.cos(th)], (t.size, 1))


def analyze(t: np.ndarray, f: np.ndarray, acc: np.ndarray | None = None, **kw: object):  # type: ignore[no-untyped-def]
    return analyze_arrays(t, f, level_acc(t) if acc is None else acc, rate_hz=RATE_HZ, **kw)  # type: ignore[arg-type]


def test_one_stroke_boundaries_peak_and_impulse_match_closed_form() -> None:
    t = timeline(4.0)
    start, length, peak = 1.0, 0.6, 5.0
    result = analyze(t, hann_stroke(t, start, length, peak), contact_area_mm2=60.0)
    assert len(result.strokes) == 1
    s = result.strokes[0]
    # sin²(πu) = 0.1 at u = asin(√0.1)/π
    u10 = math.asin(math.sqrt(0.1)) / math.pi
    assert s.start_s == pytest.approx(start + u10 * length, abs=0.003)
    assert s.end_s == pytest.approx(start + (1 - u10) * length, abs=0.003)
    assert s.peak_force_n == pytest.approx(peak, rel=0.005)
    # ∫ P sin²(πu) L du between the crossings
    a, b = u10, 1 - u10
    exact = (
        peak
        * length
        * ((b - a) / 2 - (math.sin(2 * math.pi * b) - math.sin(2 * math.pi * a)) / (4 * math.pi))
    )
    assert s.impulse_ns == pytest.approx(exact, rel=0.01)
    assert s.mean_force_n == pytest.approx(exact / s.duration_s, rel=0.01)
    assert s.mean_pressure_kpa == pytest.approx(s.mean_force_n / 60.0 * 1000, rel=1e-9)
    assert s.tilt_deg == pytest.approx(45.0, abs=0.01)


def test_strumming_dip_deeper_than_30_percent_splits_shallower_does_not() -> None:
    t = timeline(5.0)

    # two peaks of 6 N joined without lifting; the dip between them is a chosen level
    def two_peaks(dip_n: float) -> np.ndarray:
        f = np.zeros_like(t)
        rise = (t >= 1.0) & (t < 1.3)
        f[rise] = 6 * np.sin(np.pi / 2 * (t[rise] - 1.0) / 0.3) ** 2
        down = (t >= 1.3) & (t < 1.6)
        f[down] = dip_n + (6 - dip_n) * np.cos(np.pi / 2 * (t[down] - 1.3) / 0.3) ** 2
        up = (t >= 1.6) & (t < 1.9)
        f[up] = dip_n + (6 - dip_n) * np.sin(np.pi / 2 * (t[up] - 1.6) / 0.3) ** 2
        fall = (t >= 1.9) & (t < 2.2)
        f[fall] = 6 * np.cos(np.pi / 2 * (t[fall] - 1.9) / 0.3) ** 2
        return f

    split = analyze(t, two_peaks(3.6))  # 40 % below the smaller peak
    assert len(split.strokes) == 2
    assert split.strokes[0].end_s == pytest.approx(1.6, abs=0.01)
    assert split.strokes[1].start_s == pytest.approx(1.6, abs=0.01)
    wobble = analyze(t, two_peaks(4.5))  # 25 % below: a wobble inside one stroke
    assert len(wobble.strokes) == 1
    assert wobble.strokes[0].peak_force_n == pytest.approx(6.0, rel=0.01)


def test_split_depth_is_a_setting() -> None:
    t = timeline(5.0)
    f = hann_stroke(t, 1.0, 0.5, 5.0)
    f = np.maximum(f, hann_stroke(t, 1.22, 0.5, 5.0))  # they cross at 3.0 N: 40 % below
    assert len(analyze(t, f).strokes) == 2
    strict = AnalysisSettings(split_depth=0.5)
    assert len(analyze(t, f, settings=strict).strokes) == 1


@pytest.mark.parametrize(
    ("what", "force"),
    [
        ("resting contact at 0.6 N", lambda t: np.where((t > 1) & (t < 6), 0.6, 0.0)),
        ("a peak below 1 N", lambda t: hann_stroke(t, 1.0, 0.6, 0.9)),
        ("a knock of 6 N for 20 ms", lambda t: hann_stroke(t, 2.0, 0.02, 6.0)),
        ("a hold of 3 N for 8 s", lambda t: np.where((t > 1) & (t < 9), 3.0, 0.0)),
    ],
)
def test_things_that_are_not_strokes(what: str, force) -> None:  # type: ignore[no-untyped-def]
    t = timeline(10.0)
    result = analyze(t, force(t))
    assert result.strokes == [], what


def test_zero_drift_is_removed() -> None:
    t = timeline(120.0)
    rng = np.random.default_rng(1)
    strokes = sum(hann_stroke(t, s, 0.6, 4.0) for s in np.arange(5.0, 115.0, 5.0))
    drift = 0.8 * t / t[-1]  # 0.8 N over two minutes: far above any real sensor
    result = analyze(t, strokes + drift + rng.normal(0, 0.02, t.size))
    peaks = np.array([s.peak_force_n for s in result.strokes])
    assert len(peaks) == 22
    assert np.all(np.abs(peaks - 4.0) < 0.08), peaks


def test_zero_that_jumps_up_is_relearned_and_resting_is_not_taken_for_it() -> None:
    t = timeline(100.0)
    rng = np.random.default_rng(2)
    offset = np.where(t > 20.0, 0.5, 0.0)  # the sensor's offset moves up at 20 s
    rest = np.where((t > 60.0) & (t < 66.0), 0.4, 0.0)  # 6 s of resting contact
    strokes = sum(hann_stroke(t, s, 0.6, 4.0) for s in (10.0, 45.0, 50.0, 80.0, 85.0))
    f = strokes + offset + rest + rng.normal(0, 0.02, t.size)
    result = analyze(t, f)
    peaks = np.array([s.peak_force_n for s in result.strokes])
    assert len(peaks) == 5
    assert np.all(np.abs(peaks - 4.0) < 0.08), peaks


def test_short_gap_inside_a_stroke_is_bridged_not_split() -> None:
    t = timeline(4.0)
    f = hann_stroke(t, 1.0, 1.0, 5.0)
    keep = ~((t > 1.2) & (t < 1.35))  # 150 ms lost on the rising flank
    result = analyze(t[keep], f[keep])
    assert len(result.strokes) == 1
    assert result.summary.lost_samples == int((~keep).sum())
    assert result.strokes[0].peak_force_n == pytest.approx(5.0, rel=0.01)


def test_long_gap_cutting_a_stroke_makes_it_incomplete_not_two() -> None:
    t = timeline(8.0)
    f = hann_stroke(t, 1.0, 2.0, 5.0) + hann_stroke(t, 5.0, 0.6, 4.0)
    keep = ~((t > 1.6) & (t < 2.4))  # disconnect in the middle of the first stroke
    result = analyze(t[keep], f[keep])
    assert [round(s.peak_force_n) for s in result.strokes] == [4]
    assert result.summary.incomplete_strokes == 2  # its two cut halves
    assert result.blind_spans_s == [pytest.approx((1.6, 2.4), abs=0.006)]


def test_long_gap_in_idle_time_invents_nothing() -> None:
    t = timeline(8.0)
    f = hann_stroke(t, 1.0, 0.6, 5.0) + hann_stroke(t, 6.0, 0.6, 5.0)
    keep = ~((t > 2.5) & (t < 5.0))
    result = analyze(t[keep], f[keep])
    assert len(result.strokes) == 2
    assert result.summary.incomplete_strokes == 0


def test_direction_follows_motion_along_the_handle() -> None:
    t = timeline(4.0)
    f = hann_stroke(t, 1.0, 0.6, 5.0) + hann_stroke(t, 2.5, 0.6, 5.0)
    tilt = math.radians(40)
    acc = level_acc(t, 40.0)
    # world acceleration along the skin: +X for the first stroke (pull), -X for the second
    a = np.zeros_like(t)
    for start, sign in ((1.0, 1.0), (2.5, -1.0)):
        u = (t - start) / 0.6
        inside = (u > 0) & (u < 1)
        a[inside] = sign * 0.2 * np.sin(2 * np.pi * u[inside])  # g
    acc[:, 0] += a * math.cos(tilt)
    acc[:, 2] -= a * math.sin(tilt)
    result = analyze(t, f, acc)
    assert [s.direction for s in result.strokes] == ["pull", "push"]
    assert [round(s.tilt_deg) for s in result.strokes] == [40, 40]


def test_saturated_strokes_are_flagged() -> None:
    t = timeline(4.0)
    f = np.minimum(hann_stroke(t, 1.0, 0.6, 12.0), 10.0)
    result = analyze(t, f, force_limit_n=10.0)
    assert result.strokes[0].saturated
    assert result.summary.saturated_strokes == 1
    assert not analyze(t, f, force_limit_n=20.0).strokes[0].saturated


def test_summary_of_a_session_without_strokes() -> None:
    t = timeline(3.0)
    result = analyze(t, np.zeros_like(t))
    assert result.summary.stroke_count == 0
    assert result.summary.treatment_time_s == 0.0
    assert result.summary.stroke_rate_per_min is None
    assert result.summary.session_duration_s == pytest.approx(t[-1])


@pytest.mark.parametrize(
    ("t", "f", "acc", "match"),
    [
        (np.arange(5.0), np.zeros(4), np.zeros((5, 3)), "differ in length"),
        (np.arange(5.0), np.zeros(5), np.zeros((5, 2)), r"shape \(n, 3\)"),
        (np.arange(5.0), np.array([0, 1, np.nan, 0, 0.0]), np.zeros((5, 3)), "sample 2"),
        (
            np.array([0, 1, 2, 2, 3.0]),
            np.zeros(5),
            np.zeros((5, 3)),
            "does not increase at sample 3",
        ),
    ],
)
def test_bad_samples_raise_a_typed_error(t, f, acc, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SignalInputError, match=match):
        analyze_arrays(t, f, acc, rate_hz=1.0)


def test_a_bad_chunk_is_refused_alone_and_loses_nothing_else() -> None:
    t = timeline(6.0)
    f = hann_stroke(t, 1.0, 0.6, 5.0) + hann_stroke(t, 4.0, 0.6, 3.0)
    acc = level_acc(t)
    reference = analyze(t, f).strokes
    analyzer = StrokeAnalyzer(rate_hz=RATE_HZ, batch_s=1.0)  # chunks wait in a batch
    got = []
    for i in range(0, t.size, 16):
        got += analyzer.feed(t[i : i + 16], f[i : i + 16], acc[i : i + 16])
        if i == 160:  # fed while good chunks still wait unprocessed
            bad_force = f[i : i + 16].copy()
            bad_force[3] = np.nan
            got += analyzer.feed(t[i + 16 : i + 32] + 100.0, bad_force, acc[i : i + 16])
            got += analyzer.feed(t[i : i + 16], f[i : i + 16], acc[i : i + 16])
    got += analyzer.finish()
    assert [(s.start_s, s.peak_force_n) for s in got] == [
        (s.start_s, s.peak_force_n) for s in reference
    ]
    assert analyzer.rejected_samples == 32
    assert "sample 3 of a chunk holds a non-finite value" in analyzer.rejections[0]
    assert "time does not increase at sample 0" in analyzer.rejections[1]
    with pytest.raises(SignalInputError, match="shape"):
        StrokeAnalyzer(rate_hz=RATE_HZ).feed(t[:4], f[:4], acc[:4, :2])


def test_feeding_after_finish_is_refused() -> None:
    a = StrokeAnalyzer(rate_hz=RATE_HZ)
    a.finish()
    with pytest.raises(SignalInputError, match="finished"):
        a.feed([0.0], [0.0], [[0.0, 0.0, 1.0]])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_stroke_force_n": 0}, "min_stroke_force_n"),
        ({"split_depth": 1.2}, "split_depth"),
        ({"min_stroke_duration_s": 5, "max_stroke_duration_s": 4}, "max_stroke_duration_s"),
    ],
)
def test_settings_are_validated(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(SettingsError, match=match):
        AnalysisSettings(**kwargs)


@pytest.mark.parametrize("window", [5, 9, 17, 81])
def test_savgol_coefficients_match_scipy(window: int) -> None:
    scipy_signal = pytest.importorskip("scipy.signal")
    np.testing.assert_allclose(
        savgol_smoothing_coeffs(window, 2), scipy_signal.savgol_coeffs(window, 2), atol=1e-12
    )


def test_long_strokes_streamed_in_frames_match_the_offline_analysis() -> None:
    # Strokes of 4–5.5 s at 1 kHz are longer than the stream's run buffer holds at first
    # (1,024 samples): it must grow while a stroke is open, then drop what is done with.
    rate = 1000.0
    t = timeline(40.0, rate)
    strokes = [(1.0, 5.5, 6.0), (8.0, 4.0, 3.0), (13.0, 0.6, 4.0), (20.0, 5.0, 8.0)]
    f = sum(hann_stroke(t, start, length, peak) for start, length, peak in strokes)
    acc = level_acc(t, 30.0)
    for k, (start, length, _) in enumerate(strokes):  # pull, push, pull, push along the handle
        u = (t - start) / length
        inside = (u > 0) & (u < 1)
        acc[inside, 0] += (-1) ** k * 0.05 * np.sin(2 * np.pi * u[inside])
    offline = analyze_arrays(t, f, acc, rate_hz=rate)
    analyzer = StrokeAnalyzer(rate_hz=rate, batch_s=0.0)
    streamed = []
    for i in range(0, t.size, 16):
        streamed += analyzer.feed(t[i : i + 16], f[i : i + 16], acc[i : i + 16])
    streamed += analyzer.finish()
    assert [round(s.peak_force_n, 1) for s in offline.strokes] == [6.0, 3.0, 4.0, 8.0]
    assert [s.direction for s in offline.strokes] == ["pull", "push", "pull", "push"]
    assert len(streamed) == 4
    for got, want in zip(streamed, offline.strokes, strict=True):
        assert got.start_s == pytest.approx(want.start_s, abs=1e-9)
        assert got.end_s == pytest.approx(want.end_s, abs=1e-9)
        assert got.impulse_ns == pytest.approx(want.impulse_ns, abs=1e-9)
        assert got.tilt_deg == pytest.approx(want.tilt_deg, abs=1e-9)
        assert got.direction == want.direction
