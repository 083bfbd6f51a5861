"""`check-tool`'s timing lines (clock drift, the sample rate the host receives) on arrivals as
a busy host sees them: a good tool is not failed for the host's scatter, a bad one fails
however noisy the host is."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from strigil.ingest import protocol as p
from strigil.ingest.conformance import _check_drift, _check_stream, _Checks, _Run

RUNS = ((50, 1, 2.0), (200, 4, 4.0), (1000, 20, 2.0))  # rate, samples a frame, seconds
CLOCK_STARTS_US = (0, 123_456_789, 2**32 - 3_000_000)  # the last wraps during the run


@cache
def _frame(i: int, t_us: int, dt_us: int, per_frame: int) -> bytes:
    zeros = np.zeros((per_frame, 3))
    return p.encode_frame(
        seq=i, t_us=t_us, dt_us=dt_us, force_n=zeros[:, 0], acc_g=zeros, gyr_dps=zeros
    )


def _runs(drift_ppm: float, rng: np.random.Generator, *, busy: bool) -> list[_Run]:
    """The three rates of a short check (8 s in all). Every frame waits a floor of latency
    plus exponential jitter; on a busy host, a third of the half-second windows are also
    held up by 0.2–1.5 ms as a whole (another process holds the core), so even the earliest
    arrival of such a window is late."""
    runs, host_s = [], 100.0
    for rate, per_frame, seconds in RUNS:
        dt_us = 1_000_000 // rate
        frames: list[tuple[float, bytes]] = []
        device0_us = CLOCK_STARTS_US[int(rng.integers(len(CLOCK_STARTS_US)))]
        held = rng.uniform(0.2e-3, 1.5e-3, 64) * (rng.random(64) < (0.33 if busy else 0.0))
        for i in range(int(seconds * rate / per_frame)):
            first_us = i * per_frame * dt_us
            last_device_s = (first_us + (per_frame - 1) * dt_us) / 1e6
            jitter = rng.exponential(2e-3 if busy else 0.3e-3)
            arrival = host_s + (1 + drift_ppm * 1e-6) * last_device_s + 7.5e-3 + jitter
            arrival += held[int(last_device_s / 0.5)]
            frames.append((arrival, _frame(i, (device0_us + first_us) % 2**32, dt_us, per_frame)))
        runs.append(_Run(rate, frames))
        host_s += seconds + 1.0
    return runs


def _line(runs: list[_Run]) -> tuple[bool, str]:
    out = _Checks()
    _check_drift(runs, out)
    (line,) = out.lines
    assert line.name == "clock drift"
    return line.passed, line.evidence


@pytest.mark.parametrize("drift_ppm", [0.0, 60.0, -60.0])
def test_a_good_clock_passes_on_a_busy_host(drift_ppm: float) -> None:
    failed = []
    for seed in range(100):
        passed, evidence = _line(_runs(drift_ppm, np.random.default_rng(seed), busy=True))
        if not passed:
            failed.append(evidence)
    assert not failed, failed[:3]


@pytest.mark.parametrize("drift_ppm", [1500.0, -1500.0])
def test_a_clock_1500_ppm_off_fails_on_a_busy_host(drift_ppm: float) -> None:
    for seed in range(100):
        passed, evidence = _line(_runs(drift_ppm, np.random.default_rng(seed), busy=True))
        assert not passed, evidence
        assert f"{drift_ppm:+.0f}"[0] == evidence[0]  # and the sign is the tool's


@pytest.mark.parametrize("drift_ppm", [250.0, -250.0])
def test_a_clock_250_ppm_off_fails_on_a_quiet_host(drift_ppm: float) -> None:
    for seed in range(50):
        passed, evidence = _line(_runs(drift_ppm, np.random.default_rng(seed), busy=False))
        assert not passed, evidence
        measured = float(evidence.split(" ")[0])
        assert measured == pytest.approx(drift_ppm, abs=40.0), evidence


def test_too_few_frames_is_a_failed_line_that_says_so() -> None:
    runs = _runs(0.0, np.random.default_rng(1), busy=False)
    short = [_Run(r.rate_hz, r.frames[:2]) for r in runs]
    passed, evidence = _line(short)
    assert not passed
    assert "too few frames" in evidence


def _rate_line(run: _Run) -> tuple[bool, str]:
    out = _Checks()
    _check_stream(run, 517, out)
    lines = {line.name: line for line in out.lines}
    line = lines[f"{run.rate_hz} Hz: sample rate"]
    return line.passed, line.evidence


def test_the_rate_line_is_not_moved_by_a_late_first_or_last_frame() -> None:
    for seed in range(50):
        rng = np.random.default_rng(seed)
        runs = _runs(0.0, rng, busy=True)
        for run in runs:
            frames = list(run.frames)
            late = rng.uniform(0.06, 0.12)  # a stall of 60–120 ms: 3–6 % of a 2-s run
            if seed % 2:
                frames[0] = (frames[0][0] + late, frames[0][1])
            else:
                frames[-1] = (frames[-1][0] + late, frames[-1][1])
            passed, evidence = _rate_line(_Run(run.rate_hz, frames))
            assert passed, f"{run.rate_hz} Hz: {evidence}"


@pytest.mark.parametrize("clock_ppm", [60_000.0, -60_000.0])
def test_a_tool_sending_6_percent_off_its_rate_fails_the_rate_line(clock_ppm: float) -> None:
    for seed in range(20):
        for run in _runs(clock_ppm, np.random.default_rng(seed), busy=True):
            passed, evidence = _rate_line(run)
            assert not passed, f"{run.rate_hz} Hz: {evidence}"
