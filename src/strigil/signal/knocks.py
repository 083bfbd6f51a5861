"""Knocks cut out of the force before smoothing, so a knock on a stroke is not part of it.

A knock (the edge tapped against bone, the tool set down) is a spike of 5–20 N lasting
10–40 ms. Between strokes it is too short to be a stroke anyway; on top of one it would set the
stroke's peak, add to its impulse and could even split it. A running median over
``knock_window_s`` (0.1 s) follows a stroke — whose force changes over a few hundred
milliseconds — but not a spike lasting less than half the window. Where the force stands more
than ``knock_min_n`` *and* ``knock_fraction`` of the median above the median, a knock is there;
it and its flanks (within 15 ms, down to ``knock_shoulder_n`` above the median) are replaced by
the median. A stroke's own smooth peak stands about 0.7 N out of the median at 10 N and 0.3 s,
so the rule leaves it alone; a stroke shorter than about 0.2 s and above 10 N is the one case
where it would shave the peak (docs/algorithms.md).

Each output sample depends on :attr:`KnockFilter.context` raw samples either side of it and on
nothing else, so a stream and a whole file give the same numbers.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import median_filter

from strigil.signal.settings import AnalysisSettings

FloatArray = NDArray[np.float64]
_FLANK_S = 0.015


class KnockFilter:
    """The knock rule at one sample rate."""

    def __init__(self, rate_hz: float, settings: AnalysisSettings) -> None:
        self._half = max(round(settings.knock_window_s * rate_hz / 2), 1)
        self._flank = max(round(_FLANK_S * rate_hz), 1)
        self._min_n = settings.knock_min_n
        self._fraction = settings.knock_fraction
        self._shoulder_n = settings.knock_shoulder_n
        self.context = self._half + self._flank
        """Raw samples needed either side of each output sample."""

    def apply(self, raw: FloatArray) -> FloatArray:
        """``raw`` without its knocks, shortened by :attr:`context` at each end."""
        m, d = self._half, self._flank
        n = raw.shape[0]
        inner = raw[m + d : n - m - d]
        if n <= 2 * (m + d) or float(raw.max() - raw.min()) <= self._min_n:
            return inner  # nothing can stand out that far
        med = median_filter(raw, size=2 * m + 1, mode="nearest")
        excess = raw - med
        spike = (excess > self._min_n) & (excess > self._fraction * med)
        seen = spike[m : n - m]
        if not seen.any():
            return inner
        near = np.convolve(seen.astype(np.float64), np.ones(2 * d + 1), mode="valid") > 0.5
        cut = near & (excess[m + d : n - m - d] > self._shoulder_n)
        out: FloatArray = np.where(cut, med[m + d : n - m - d], inner)
        return out
