"""The clock model recovers drift and offset from jittery arrivals (30 min of device time)."""

from __future__ import annotations

import numpy as np
import pytest

from strigil.ingest.clock import ClockModel
from strigil.ingest.protocol import DeviceClockUnwrapper


@pytest.mark.parametrize("drift_ppm", [-50.0, 0.0, 50.0])
def test_drift_recovered_to_within_a_millisecond_over_30_minutes(drift_ppm: float) -> None:
    rng = np.random.default_rng(int(drift_ppm) + 100)
    frame_s = 16 / 200
    device_s = np.arange(0, 30 * 60, frame_s)
    true_host = 1234.5 + (1 + drift_ppm * 1e-6) * device_s
    latency = 0.004 + rng.exponential(0.006, device_s.size)  # radio and OS jitter
    stalls = rng.random(device_s.size) < 0.01
    latency[stalls] += rng.uniform(0.05, 0.5, stalls.sum())  # bursts after stalls
    keep = rng.random(device_s.size) > 0.02  # lost frames
    keep[(device_s > 600) & (device_s < 605)] = False  # a disconnect
    model = ClockModel()
    for d, h in zip(device_s[keep], (true_host + latency)[keep], strict=True):
        model.add(float(d), float(h))
    fit = model.fit()
    assert fit is not None
    assert fit.drift_ppm == pytest.approx(drift_ppm, abs=0.5)
    # the mapped time of every sample within 1 ms of its true host time (plus the constant
    # minimum latency, which shifts all samples alike)
    error = np.asarray(fit.host_s(device_s)) - (true_host + 0.004)
    assert np.abs(error).max() < 0.001
    assert fit.residual_us < 1000


def test_wrapping_device_clock_feeds_a_continuous_fit() -> None:
    unwrap = DeviceClockUnwrapper()
    model = ClockModel()
    start_us = 2**32 - 5_000_000  # wraps 5 s in
    for k in range(2000):
        device_us = (start_us + k * 80_000) % 2**32
        device_s = unwrap.unwrap(device_us) / 1e6
        model.add(device_s, 100.0 + device_s * (1 + 20e-6) + 0.003)
    fit = model.fit()
    assert fit is not None
    assert fit.drift_ppm == pytest.approx(20.0, abs=0.1)


def test_one_frame_gives_an_offset_only() -> None:
    model = ClockModel()
    assert model.fit() is None
    model.add(5.0, 105.01)
    fit = model.fit()
    assert fit is not None
    assert fit.drift_ppm == 0.0
    assert fit.host_s(5.0) == pytest.approx(105.01)
