"""Device clock → host clock: offset and drift, fitted over the session.

Every frame gives a pair (device time of its first sample, host time it was received). The
host time is the device time mapped by the unknown line ``host = offset + (1 + drift)·device``
plus a latency that is never negative and jitters (radio retries, the OS, bursts after a
stall). So the fit does not go through the pairs but through the *earliest* arrival in each
window of device time (the lower envelope), where latency is closest to its minimum:
least squares over those points gives the line, off by about the minimum latency, which is
the same for every sample and so does not distort intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

WINDOW_S = 10.0
"""Device-time window over which the earliest arrival is kept."""
MAX_WINDOWS = 1024
"""Past this, the oldest windows are thinned (every other one dropped)."""


@dataclass(frozen=True, slots=True)
class ClockFit:
    """``host_s = offset_s + (1 + drift_ppm·1e-6)·device_s``; ``residual_us`` of the envelope."""

    offset_s: float
    drift_ppm: float
    residual_us: float
    windows: int

    def host_s(self, device_s: np.ndarray | float) -> np.ndarray | float:
        return self.offset_s + (1.0 + self.drift_ppm * 1e-6) * np.asarray(device_s)

    def to_json(self) -> dict[str, float | int]:
        return {
            "offset_s": self.offset_s,
            "drift_ppm": self.drift_ppm,
            "residual_us": self.residual_us,
            "windows": self.windows,
        }


class ClockModel:
    """Online fit; feed (device_s, host_s) per frame, in any order within reason."""

    def __init__(self, *, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._best: dict[int, tuple[float, float]] = {}  # window → (device_s, host - device)
        self._fit: ClockFit | None = None

    def add(self, device_s: float, host_s: float) -> None:
        window = math.floor(device_s / self.window_s)
        lag = host_s - device_s
        best = self._best.get(window)
        if best is None or lag < best[1]:
            self._best[window] = (device_s, lag)
            self._fit = None
        if len(self._best) > MAX_WINDOWS:
            keys = sorted(self._best)
            for k in keys[: len(keys) // 2 : 2]:
                del self._best[k]

    def envelope(self) -> tuple[np.ndarray, np.ndarray]:
        """The earliest arrival of each window: (device_s, host_s − device_s), by device time."""
        pts = np.array(sorted(self._best.values()), dtype=float).reshape(-1, 2)
        return pts[:, 0], pts[:, 1]

    def fit(self) -> ClockFit | None:
        """The current fit; None before the first frame. One window gives offset only."""
        if self._fit is None and self._best:
            pts = np.array(sorted(self._best.values()))
            d, lag = pts[:, 0], pts[:, 1]
            if d.size >= 2 and d[-1] - d[0] >= self.window_s:
                slope, intercept = np.polyfit(d - d[0], lag, 1)
                resid = lag - (intercept + slope * (d - d[0]))
                offset = intercept - slope * d[0]
            else:
                slope, offset, resid = 0.0, float(lag.min()), np.zeros(1)
            self._fit = ClockFit(
                offset_s=float(offset),
                drift_ppm=float(slope * 1e6),
                residual_us=float(np.sqrt(np.mean(resid**2)) * 1e6),
                windows=int(d.size),
            )
        return self._fit
