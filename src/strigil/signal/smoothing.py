"""Savitzky–Golay smoothing as a linear-phase FIR, so a stream and a whole file agree exactly."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def savgol_smoothing_coeffs(window: int, polyorder: int = 2) -> NDArray[np.float64]:
    """Coefficients of the Savitzky–Golay smoother (value at the window's centre).

    Same numbers as ``scipy.signal.savgol_coeffs(window, polyorder)``, computed with numpy
    alone because importing ``scipy.signal`` costs most of a second of CLI start-up.

    Examples
    --------
    >>> savgol_smoothing_coeffs(5).round(4).tolist()
    [-0.0857, 0.3429, 0.4857, 0.3429, -0.0857]
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number of samples, not {window}")
    if polyorder >= window:
        raise ValueError(f"polyorder {polyorder} must be below the window {window}")
    half = window // 2
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    design = np.vander(offsets, polyorder + 1, increasing=True)
    coeffs: NDArray[np.float64] = np.linalg.pinv(design)[0]
    return coeffs


def smoothing_window_samples(rate_hz: float, window_s: float) -> int:
    """An odd number of samples spanning about ``window_s`` at ``rate_hz`` (at least 5)."""
    n = round(window_s * rate_hz)
    n = max(n, 5)
    return n if n % 2 else n + 1
