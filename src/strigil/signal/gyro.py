"""The gyroscope's z bias, tracked from still stretches, so that a turn is an angle, not drift.

A MEMS gyroscope reads a few tenths of a degree per second (up to a few) when still, and the
bias wanders with temperature. Over a 1-s stroke, 2 deg/s of bias is a 2° turn that did not
happen — a tenth of the smallest hook. The tracker cuts the stream into blocks (the force zero's
``zero_block_s``); a block whose z rate varies less than ``gyro_quiet_dps`` and whose mean lies
within ``gyro_bias_max_dps`` of 0 is still, and its mean is a sample of the bias. The bias in
force is the median of the last eight such samples, so one slow, steady turn taken for
stillness moves it little. Each sample is corrected with the bias known before its block, so a
stream cut anywhere gives the same numbers as a whole file.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


class GyroBias:
    """Bias removal for one stream of z rates (deg/s); NaN (no gyroscope) passes through."""

    def __init__(self, *, block: int, quiet_dps: float, max_bias_dps: float, keep: int = 8):
        self.block = block
        self.quiet_var = quiet_dps**2
        self.max_bias_dps = max_bias_dps
        self.bias_dps = 0.0
        self._samples: deque[float] = deque(maxlen=keep)
        self._open: FloatArray = np.empty(0)  # samples of the block not yet complete

    def correct(self, rate_dps: FloatArray) -> FloatArray:
        """The rates with the bias removed; call with consecutive stretches of the stream."""
        pos = self._open.shape[0]
        vals = rate_dps if pos == 0 else np.concatenate([self._open, rate_dps])
        full = vals.shape[0] // self.block
        before = self.bias_dps
        if full == 0 or math.isnan(vals[0]):  # no block closes, or no gyroscope
            self._open = vals[full * self.block :].copy()
            out: FloatArray = rate_dps - before
            return out
        if full == 1:  # a stream closes one block at a time: scalars are cheaper
            b = vals[: self.block]
            m = float(b.sum()) / self.block
            if float(b @ b) / self.block - m * m < self.quiet_var and abs(m) <= self.max_bias_dps:
                self._samples.append(m)
                self.bias_dps = _median(self._samples)
            self._open = vals[self.block :].copy()
            out = rate_dps - before
            split = self.block - pos  # samples of this call that are in the next block
            if self.bias_dps != before and split < out.shape[0]:
                out[split:] = rate_dps[split:] - self.bias_dps
            return out
        blocks = vals[: full * self.block].reshape(full, self.block)
        # the stream's formulas (above), vectorised: the same numbers whatever the chunking
        means = blocks.sum(axis=1) / self.block
        mean_sq = np.einsum("ij,ij->i", blocks, blocks) / self.block
        still = (mean_sq - means * means < self.quiet_var) & (np.abs(means) <= self.max_bias_dps)
        if still.any():
            at = still.nonzero()[0]
            levels = self._levels(means[at])
            # block b runs on the level after the last still block before it (before: none)
            seen = np.searchsorted(at, np.arange(full + 1), side="left")
            bias = np.concatenate([[before], levels])[seen]
        else:
            bias = np.full(full + 1, before)
        self._open = vals[full * self.block :].copy()
        block_of = (np.arange(pos, pos + rate_dps.shape[0]) // self.block).astype(np.intp)
        out = rate_dps - bias[block_of]
        return out

    def _levels(self, new: FloatArray) -> FloatArray:
        """The bias after each of these new still-block means: the median of the last eight
        samples (fewer at the start); the samples and the bias are brought up to date."""
        keep = self._samples.maxlen or 8
        prior = list(self._samples)
        every = np.concatenate([np.asarray(prior, dtype=np.float64), new])
        levels = np.empty(new.shape[0])
        short = max(0, min(new.shape[0], keep - 1 - len(prior)))  # fewer than eight so far
        for i in range(short):
            levels[i] = _median(every[: len(prior) + i + 1].tolist())
        if new.shape[0] > short:
            windows = sliding_window_view(every, keep)  # windows[j] = every[j : j + keep]
            ends = np.arange(short, new.shape[0]) + len(prior)
            levels[short:] = np.median(windows[ends - keep + 1], axis=1)
        self._samples.extend(new[-keep:].tolist())
        self.bias_dps = float(levels[-1])
        return levels


def _median(values: deque[float] | list[float]) -> float:
    """The median of a few values (numpy's costs 15 µs a call, sorting eight costs 1)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])
