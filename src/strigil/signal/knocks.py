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
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from strigil.signal.settings import AnalysisSettings

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
_FLANK_S = 0.015


class KnockFilter:
    """The knock rule at one sample rate.

    The running median is computed only where a knock can be: a sample can stand more than
    ``knock_min_n`` above the median of its window only if it stands that far above the lowest
    sample on *each* side of it (more than half the window must lie below it). That rules out
    the flanks of every stroke, so a whole session needs medians at a few samples per stroke
    peak — about a millisecond instead of the quarter second of a full running median in numpy
    (scipy's would cost its import, a quarter second at every start of the command line).
    """

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
        # positions p in [m, n - m) have a whole window raw[p - m : p + m + 1]
        lowest = _window_min(raw, m)  # lowest[j] = min(raw[j : j + m])
        centre = raw[m : n - m]
        higher_side = np.maximum(lowest[: n - 2 * m], lowest[m + 1 : n - m + 1])
        maybe = np.flatnonzero(centre - higher_side > self._min_n) + m
        if maybe.size == 0:
            return inner
        windows = sliding_window_view(raw, 2 * m + 1)
        med = _medians(windows, maybe - m, m)
        excess = raw[maybe] - med
        spikes = maybe[(excess > self._min_n) & (excess > self._fraction * med)]
        if spikes.size == 0:
            return inner
        # the spike and its flanks: samples within d of a spike, still this far above the median
        near = np.unique((spikes[:, None] + np.arange(-d, d + 1)).ravel())
        near = near[(near >= m + d) & (near < n - m - d)]
        near_med = _medians(windows, near - m, m)
        cut = raw[near] - near_med > self._shoulder_n
        out = inner.copy()
        out[near[cut] - (m + d)] = near_med[cut]
        return out


def _medians(windows: FloatArray, at: IntArray, m: int) -> FloatArray:
    """Medians of the (2m + 1)-sample windows starting at ``at``."""
    picked = np.partition(windows[at], m, axis=1)
    out: FloatArray = picked[:, m]
    return out


def _window_min(x: FloatArray, w: int) -> FloatArray:
    """``min(x[j : j + w])`` for every j, by doubling: log2(w) vectorised passes."""
    out = x
    span = 1
    while span * 2 <= w:  # out[j] = min(x[j : j + span])
        out = np.minimum(out[:-span], out[span:])
        span *= 2
    rest = w - span  # two overlapping spans cover w
    if rest:
        out = np.minimum(out[: out.shape[0] - rest], out[rest:])
    return out
