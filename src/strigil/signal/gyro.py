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

from collections import deque

import numpy as np
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
        if full == 0:
            self._open = vals.copy()
            out: FloatArray = rate_dps - before
            return out
        blocks = vals[: full * self.block].reshape(full, self.block)
        means = blocks.mean(axis=1)
        still = (blocks.var(axis=1) < self.quiet_var) & (np.abs(means) <= self.max_bias_dps)
        # bias in force during block k: known before it; the open block gets the newest
        bias = np.empty(full + 1)
        bias[0] = before
        if still.any():
            at = still.nonzero()[0].tolist()
            level = self.bias_dps
            values = bias  # filled below, block by block between still blocks
            k0 = 0
            for k, m in zip(at, means[still].tolist(), strict=True):
                values[k0 + 1 : k + 1] = level
                self._samples.append(m)
                level = float(np.median(np.asarray(self._samples)))
                k0 = k
            values[k0 + 1 :] = level
            self.bias_dps = level
        else:
            bias[1:] = before
        self._open = vals[full * self.block :].copy()
        block_of = (np.arange(pos, pos + rate_dps.shape[0]) // self.block).astype(np.intp)
        out = rate_dps - bias[block_of]
        return out
