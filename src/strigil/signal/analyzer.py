"""Stroke analysis: one implementation, fed a whole session or chunks of any size.

Pipeline (docs/algorithms.md has the reasoning and the numbers):

1. **Gaps.** Samples more than 1.5 intervals apart are lost samples. A gap up to
   ``max_bridged_gap_s`` is bridged by linear interpolation (so it neither splits a stroke
   nor invents one: a straight line has no peak of its own); a longer gap ends the *run*:
   the signal on either side is analysed separately and a stroke cut by the gap is counted
   as incomplete, never guessed.
2. **Knocks, then smoothing.** Spikes standing far out of a 0.1-s running median (knocks) are
   replaced by the median (:mod:`strigil.signal.knocks`), so a knock on a stroke neither
   splits it nor sets its peak. Then Savitzky–Golay, quadratic, about 80 ms: a linear-phase
   FIR that keeps peak heights and delays nothing once centred; each run's edges are padded
   with its end values.
3. **Zero drift.** In fixed blocks of 0.25 s the tracker finds quiet blocks (force standard
   deviation < 0.05 N) that lie no more than 0.15 N above the current zero: the edge is off the
   skin there, and the block's mean becomes the zero for the following samples. A hand resting
   the tool on the skin is quiet but sits higher, so it does not become the zero unless it
   stays perfectly steady for ``zero_reset_s`` (a sensor offset that moved up).
4. **Segmentation.** Contact regions are where corrected force exceeds 10 % of the minimum
   stroke force (no stroke boundary can lie lower). In a region a left-to-right state machine
   follows the running peak ``P`` and the lowest dip ``D`` since it; when the force rises again
   with ``D <= 0.7 * P`` and ``D <= 0.7 * rise`` the dip is a boundary (the 30 % rule), a
   shallower dip is a wobble. A stroke then starts and ends where its force crosses 10 % of its
   own peak, within its boundaries.
5. **Checks.** A peak below the minimum stroke force (resting contact), a stroke shorter than
   0.15 s (a knock) or longer than ``max_stroke_duration_s`` (a hold) is not a stroke.
6. **Pattern.** The turn about the tool's z (gyroscope, bias removed by
   :mod:`strigil.signal.gyro`), where in the stroke it happens and whether the edge stayed on
   the skin at each end give the pattern (:mod:`strigil.signal.patterns`). A stroke ending at
   a dip waits for the next stroke's peak before it is reported.

Only the state machine of step 4 is a Python loop, and it visits only the turning points of
the smoothed force inside contact regions; everything else is vectorised.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from strigil.signal.errors import SignalInputError
from strigil.signal.gyro import GyroBias
from strigil.signal.knocks import KnockFilter
from strigil.signal.patterns import classify
from strigil.signal.settings import AnalysisSettings
from strigil.signal.smoothing import savgol_smoothing_coeffs, smoothing_window_samples
from strigil.signal.strokes import Stroke, Summary, summarize

Chunk = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]
"""One fed chunk: t_s (n,), force_n (n,), acc_g (n, 3), gyr_z_dps (n,) (NaN: no gyroscope)."""

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

_EV_START: Final = 1  # bits of the per-sample event code
_EV_MAX: Final = 2
_EV_MIN: Final = 4
_EV_END: Final = 8
# Rows of the (8, n) sample buffer: time, corrected smoothed force, raw force, acceleration,
# z rate of the gyroscope as fed and with its bias removed.
_T, _F, _RAW, _AX, _AY, _AZ, _GZ, _GC = range(8)
_ROWS: Final = 8
_SATURATION_TOLERANCE_N: Final = 0.005
_F64: Final = np.dtype(np.float64)
_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Analysis:
    """Strokes of a session and its summary."""

    strokes: list[Stroke]
    summary: Summary
    blind_spans_s: list[tuple[float, float]]
    """Stretches of lost data too long to bridge (start, end), seconds."""

    def to_json(self) -> dict[str, object]:
        """The analysis JSON of docs/tool-profile.md."""
        return {
            "strokes": [s.to_json() for s in self.strokes],
            "summary": self.summary.to_json(),
        }


@dataclass(slots=True)
class _Candidate:
    left: int  # global index of the left context sample (below 10 % or the dip itself)
    left_dip: bool  # the left boundary is a dip of the split rule
    left_open: bool  # region began at a run's first sample: nothing known before it
    peak: int
    peak_n: float
    right: int  # global index of the right context sample
    right_dip: bool
    right_open: bool


@dataclass(frozen=True, slots=True)
class _Evidence:
    """What a stroke's pattern is decided on (strigil.signal.patterns)."""

    left_g: int  # global index of the dip it starts at, or -1 (it rose from the edge lifted)
    left_n: float  # force at that dip
    right_g: int  # the dip it ends at, or -1
    right_n: float
    pull: bool
    turn_deg: float | None
    late_turn_deg: float


class StrokeAnalyzer:
    """Streaming stroke analysis; feed chunks of any size, get strokes as they complete.

    Parameters
    ----------
    rate_hz
        Nominal sample rate of the tool, Hz.
    settings
        Thresholds; defaults follow docs/tool-profile.md.
    contact_area_mm2
        Contact area of the treatment edge, for ``mean_pressure_kpa`` (``None``: not reported).
    force_limit_n
        Full scale of the force sensor; strokes reaching it are flagged ``saturated``.
    batch_s
        Samples are processed once this much data has arrived (latency of stroke reports).
        Results do not depend on it.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(0, 4, 0.005)
    >>> f = np.where((t > 1) & (t < 1.6), 5 * np.sin(np.pi * (t - 1) / 0.6) ** 2, 0.0)
    >>> a = StrokeAnalyzer(rate_hz=200)
    >>> out = a.feed(t, f, np.tile([0.7, 0.0, 0.7], (t.size, 1))) + a.finish()
    >>> len(out), round(out[0].peak_force_n, 1)
    (1, 5.0)
    """

    def __init__(
        self,
        *,
        rate_hz: float,
        settings: AnalysisSettings | None = None,
        contact_area_mm2: float | None = None,
        force_limit_n: float | None = None,
        batch_s: float = 0.25,
    ) -> None:
        if not rate_hz > 0 or not math.isfinite(rate_hz):
            raise SignalInputError(f"rate_hz must be a positive number, not {rate_hz}")
        if contact_area_mm2 is not None and not contact_area_mm2 > 0:
            raise SignalInputError(f"contact_area_mm2 must be positive, not {contact_area_mm2}")
        self.settings = settings if settings is not None else AnalysisSettings()
        self.rate_hz = float(rate_hz)
        self.contact_area_mm2 = contact_area_mm2
        self.force_limit_n = force_limit_n
        self._dt = 1.0 / self.rate_hz
        window = smoothing_window_samples(self.rate_hz, self.settings.smoothing_s)
        self._coeffs = savgol_smoothing_coeffs(window, 2)
        self._half = window // 2
        self._knocks = KnockFilter(self.rate_hz, self.settings)
        # samples of context either side of a smoothed sample: the smoothing's and the knocks'
        self._lead = self._half + self._knocks.context
        self._gyro = GyroBias(
            block=max(round(self.settings.zero_block_s * self.rate_hz), 2),
            quiet_dps=self.settings.gyro_quiet_dps,
            max_bias_dps=self.settings.gyro_bias_max_dps,
        )
        self._prev_join: tuple[int, bool, float] | None = None
        """(global index of the dip, pull?, peak N) of the last stroke, if it ended at a dip."""
        self._held: tuple[Stroke, _Evidence] | None = None
        """A stroke ending at a dip, waiting for the next stroke's peak (:meth:`_settle`)."""
        self._block = max(round(self.settings.zero_block_s * self.rate_hz), 2)
        self._batch = max(round(batch_s * self.rate_hz), 1)
        self._region_thr = self.settings.region_threshold_n
        self._keep_frac = 1.0 - self.settings.split_depth

        self.strokes: list[Stroke] = []
        self.lost_samples = 0
        self.incomplete_strokes = 0
        self.first_t_s: float | None = None
        self.last_t_s: float | None = None
        self.blind_spans_s: list[tuple[float, float]] = []
        """Gaps in the data too long to bridge (start, end), seconds."""

        self._pending: list[Chunk] = []
        self._pending_n = 0
        self.rejected_samples = 0
        """Samples refused because their chunk held a non-finite value or went back in time."""
        self.rejections: list[str] = []
        """Why chunks were refused (the first 100 reasons)."""
        # run state
        self._run_open = False
        self._last_row: FloatArray | None = None  # last input row, buffer column order
        # zero drift state
        self._n_filtered = 0
        self._zero_n = 0.0
        self._zero_set = False
        self._reset_blocks = math.ceil(self.settings.zero_reset_s / self.settings.zero_block_s)
        self._raised_count = 0
        self._raised_level = 0.0
        self._raised_next = -1
        self._block_vals: FloatArray = np.empty(0)
        # segmentation state
        # The run buffer: an (8, capacity) array whose column c holds global sample w0 + c;
        # wn columns are written. It keeps what the stages still need (the smoothing's left
        # context, the open stroke) and drops the rest when it runs out of room.
        self._w: FloatArray = np.empty((_ROWS, max(8 * self._batch, 1024)))
        self._w0 = 0
        self._wn = 0
        self._next_g = 0  # first global index the event loop has not looked at
        self._run_first_g = 0
        self._in_region = False
        self._left = 0
        self._left_dip = False
        self._left_open = False
        self._peak_n = -math.inf
        self._peak_g = -1
        self._dip_n = math.inf
        self._dip_g = -1
        self._finished = False

    # --- public -------------------------------------------------------------------------

    def feed(
        self,
        t_s: ArrayLike,
        force_n: ArrayLike,
        acc_g: ArrayLike,
        gyr_dps: ArrayLike | None = None,
    ) -> list[Stroke]:
        """Add samples (``t_s`` increasing, seconds; ``force_n``; ``acc_g`` of shape (n, 3);
        ``gyr_dps`` of shape (n, 3), or ``None`` for a tool or file without a gyroscope, whose
        strokes cannot be told apart by their turn).

        Returns the strokes completed by this data (possibly none). A chunk holding a
        non-finite value or going back in time is refused on its own when its batch is
        processed, like a malformed frame: counted in :attr:`rejected_samples`, its reason kept
        in :attr:`rejections` and logged; every other chunk is analysed.

        Raises
        ------
        SignalInputError
            Shapes that do not fit (immediately), or feeding after :meth:`finish`.
        """
        if self._finished:
            raise SignalInputError("the analysis is finished; start a new StrokeAnalyzer")
        chunk = _shaped_chunk(t_s, force_n, acc_g, gyr_dps)
        n = chunk[0].shape[0]
        if n == 0:
            return []
        self._pending.append(chunk)
        self._pending_n += n
        if self._pending_n < self._batch:
            return []
        return self._drain()

    def finish(self) -> list[Stroke]:
        """Process what is left; the stroke still open at the end, if cut off, is incomplete."""
        if self._finished:
            return []
        out = self._drain()
        if self._run_open:
            out += self._end_run()
        out += self._release_held(at_end=True)
        self._finished = True
        return out

    def summary(self) -> Summary:
        duration = 0.0
        if self.first_t_s is not None and self.last_t_s is not None:
            duration = self.last_t_s - self.first_t_s
        return summarize(
            self.strokes,
            session_duration_s=duration,
            lost_samples=self.lost_samples,
            incomplete_strokes=self.incomplete_strokes,
            bout_gap_s=self.settings.bout_gap_s,
            blind_spans_s=self.blind_spans_s,
        )

    # --- stage 1: gaps ------------------------------------------------------------------

    def _drain(self) -> list[Stroke]:
        if not self._pending:
            return []
        pending = self._pending
        n = self._pending_n
        self._pending = []
        self._pending_n = 0
        if not self._run_open:
            self._start_run()
        rows = self._room(n)
        _fill(rows, pending)
        t = rows[_T]
        last_t = None if self._last_row is None else float(self._last_row[_T])
        dt = _steps(t, last_t)
        if not (math.isfinite(rows[:_GZ].sum()) and (dt.size == 0 or dt.min() > 0)):
            # slow path, only for bad input: refuse the bad chunks alone, keep the others
            pending = self._screen(pending, last_t)
            if not pending:
                return []
            n = sum(c[0].shape[0] for c in pending)
            rows = rows[:, :n]
            _fill(rows, pending)
            t = rows[_T]
            dt = _steps(t, last_t)
        if last_t is None:
            self.first_t_s = float(t[0])
        self.last_t_s = float(t[-1])
        gap_s = 1.5 * self._dt
        if not (dt.size and dt.max() > gap_s):  # the usual case: written in place, no gap
            self._last_row = rows[:, -1].copy()
            self._wn += n
            return self._smooth(final=False)
        gap_at = (dt > gap_s).nonzero()[0].tolist()
        if self._last_row is None:
            gap_at = [j + 1 for j in gap_at]  # dt was computed without a predecessor
        # The batch is rewritten with bridged samples in between, into a new buffer: `rows`
        # stays a view of the old one, which nothing writes to any more.
        gaps = dt[dt > gap_s]
        bridged = gaps[gaps <= self.settings.max_bridged_gap_s + self._dt]
        extra = int(np.maximum(np.round(bridged * self.rate_hz) - 1, 0).sum())
        old = self._w
        self._w = np.empty((_ROWS, max(old.shape[1], self._wn + n + extra)))
        self._w[:, : self._wn] = old[:, : self._wn]
        out: list[Stroke] = []
        pieces: list[FloatArray] = []
        start = 0
        for j in gap_at:
            prev = self._last_row if j == 0 else rows[:, j - 1]
            pieces.append(rows[:, start:j])
            start = j
            if prev is None:  # the session's first sample has nothing before it
                continue
            gap_s = float(rows[_T, j] - prev[_T])
            missing = round(gap_s * self.rate_hz) - 1
            self.lost_samples += max(missing, 0)
            if gap_s <= self.settings.max_bridged_gap_s + self._dt:
                if missing > 0:
                    frac = np.arange(1, missing + 1, dtype=np.float64)[None, :] / (missing + 1)
                    pieces.append(prev[:, None] + (rows[:, j] - prev)[:, None] * frac)
            else:
                self.blind_spans_s.append((float(prev[_T]), float(rows[_T, j])))
                out += self._append(pieces)
                pieces = []
                out += self._end_run()
                self._start_run()
        pieces.append(rows[:, start:])
        out += self._append(pieces)
        return out

    def _screen(self, pending: list[Chunk], last_t: float | None) -> list[Chunk]:
        good = []
        for t, f, a, gz in pending:
            problem = _chunk_problem(t, f, a, after_s=last_t)
            if problem is None:
                good.append((t, f, a, gz))
                last_t = float(t[-1])
                continue
            self.rejected_samples += t.shape[0]
            if len(self.rejections) < 100:
                self.rejections.append(problem)
            _LOGGER.warning("refused %d samples: %s", t.shape[0], problem)
        return good

    # --- stage 2: smoothing -------------------------------------------------------------

    def _start_run(self) -> None:
        self._run_open = True
        self._run_first_g = self._n_filtered
        self._w0 = self._n_filtered
        self._wn = 0
        self._next_g = self._n_filtered

    def _room(self, k: int) -> FloatArray:
        """The next ``k`` unwritten columns of the run buffer, making room if needed."""
        if self._wn + k > self._w.shape[1]:
            keep_g = min(self._next_g - 1, self._n_filtered - self._lead)
            if self._in_region:
                keep_g = min(keep_g, self._left)
            drop = min(max(keep_g - self._w0, 0), self._wn)
            if drop:
                self._w[:, : self._wn - drop] = self._w[:, drop : self._wn]
                self._w0 += drop
                self._wn -= drop
            if self._wn + k > self._w.shape[1]:
                grown = np.empty((_ROWS, max(2 * self._w.shape[1], self._wn + k)))
                grown[:, : self._wn] = self._w[:, : self._wn]
                self._w = grown
        return self._w[:, self._wn : self._wn + k]

    def _append(self, pieces: list[FloatArray]) -> list[Stroke]:
        """Write consecutive pieces of columns into the run buffer and pass them on."""
        k = sum(p.shape[1] for p in pieces)
        if k == 0:
            return []
        room = self._room(k)
        i = 0
        for p in pieces:
            room[:, i : i + p.shape[1]] = p
            i += p.shape[1]
        self._last_row = room[:, -1].copy()
        self._wn += k
        return self._smooth(final=False)

    def _smooth(self, *, final: bool) -> list[Stroke]:
        """Cut knocks away, smooth what can be smoothed and pass it on; until the run ends, the
        last ``lead`` samples wait for their successors. The run's edges are padded with its
        end values."""
        h = self._lead
        end_g = self._w0 + self._wn
        start_g = self._n_filtered
        stop_g = end_g if final else end_g - h
        if stop_g <= start_g:
            return self._segment(final=True) if final else []
        raw = self._w[_RAW]
        first_g = self._run_first_g
        lo_g, hi_g = start_g - h, stop_g + h
        if lo_g >= first_g and hi_g <= end_g:
            window = raw[lo_g - self._w0 : hi_g - self._w0]
        else:
            parts = [raw[max(lo_g, first_g) - self._w0 : min(hi_g, end_g) - self._w0]]
            if lo_g < first_g:
                parts.insert(0, np.full(first_g - lo_g, raw[first_g - self._w0]))
            if hi_g > end_g:
                parts.append(np.full(hi_g - end_g, raw[self._wn - 1]))
            window = np.concatenate(parts)
        smooth = np.convolve(self._knocks.apply(window), self._coeffs, mode="valid")
        a, b = start_g - self._w0, stop_g - self._w0
        self._w[_F, a:b] = self._correct_zero(smooth)
        self._w[_GC, a:b] = self._gyro.correct(self._w[_GZ, a:b])
        return self._segment(final=final)

    def _end_run(self) -> list[Stroke]:
        out = self._smooth(final=True)
        self._run_open = False
        self._w0 = self._n_filtered
        self._wn = 0
        return out

    # --- stage 3: zero drift ------------------------------------------------------------

    def _correct_zero(self, smooth: FloatArray) -> FloatArray:
        """Subtract the zero known at each sample: the mean of the last idle block before it."""
        block = self._block
        pos = self._block_vals.shape[0]  # samples of the current block already corrected
        vals = smooth if pos == 0 else np.concatenate([self._block_vals, smooth])
        full = vals.shape[0] // block
        if full == 0:
            self._block_vals = vals
            self._n_filtered += smooth.shape[0]
            out: FloatArray = smooth - self._zero_n
            return out
        first_block = (self._n_filtered - pos) // block
        before = self._zero_n
        zeros = self._close_blocks(vals[: full * block].reshape(full, block), first_block)
        self._block_vals = vals[full * block :].copy()
        self._n_filtered += smooth.shape[0]
        if zeros is None:  # every closed block ran on the zero from before them
            out = smooth - before
            rest = full * block - pos  # the open block runs on the zero now known
            if self._zero_n != before and rest < out.shape[0]:
                np.subtract(smooth[rest:], self._zero_n, out=out[rest:])
            return out
        zero_per_sample = np.empty(vals.shape[0])
        zero_per_sample[: full * block] = np.repeat(zeros, block)
        zero_per_sample[full * block :] = self._zero_n
        out = smooth - zero_per_sample[pos:]
        return out

    def _close_blocks(self, blocks: FloatArray, first_block: int) -> FloatArray | None:
        """Update the zero over complete blocks; return the zero in force during each block,
        or None if they all ran on the zero from before them.

        ``first_block`` is the session-wide index of the first of ``blocks``.
        """
        k = blocks.shape[1]
        quiet_var = self.settings.zero_quiet_std_n**2
        quiet_means: list[float]
        if blocks.shape[0] == 1:  # a stream closes one block at a time: scalars are cheaper
            m = float(blocks[0].sum()) / k
            if float(blocks[0] @ blocks[0]) / k - m * m >= quiet_var:
                return None
            quiet_at, quiet_means = [0], [m]
        else:
            means = blocks.sum(axis=1) / k
            mean_sq = np.einsum("ij,ij->i", blocks, blocks) / k
            quiet = (mean_sq - means * means < quiet_var).nonzero()[0]
            if quiet.size == 0:
                return None
            quiet_at, quiet_means = quiet.tolist(), means[quiet].tolist()
        margin = self.settings.zero_margin_n
        zero, is_set = self._zero_n, self._zero_set
        taken_at: list[int] = []
        taken: list[float] = []
        count, level, expected = self._raised_count, self._raised_level, self._raised_next
        for q, m in zip(quiet_at, quiet_means, strict=True):
            if m < zero + margin or not is_set:
                taken_at.append(q)
                taken.append(m)
                zero, is_set, count = m, True, 0
                continue
            # Quiet but higher than the zero: resting contact, or the zero itself moved up
            # (a sensor offset after an overload). Only a long steady stretch moves it up.
            g = first_block + q
            if g == expected and abs(m - level) < margin:
                count += 1
            else:
                count, level = 1, m
            expected = g + 1
            if count >= self._reset_blocks:
                taken_at.append(q)
                taken.append(m)
                zero, count = m, 0
        self._raised_count, self._raised_level, self._raised_next = count, level, expected
        before = self._zero_n
        self._zero_n, self._zero_set = zero, is_set
        if not taken or taken_at[0] >= blocks.shape[0] - 1:
            return None
        # block k runs on the zero taken at the last idle block before it
        values = np.concatenate([[before], taken])
        which = np.searchsorted(np.asarray(taken_at), np.arange(blocks.shape[0]), side="left")
        zeros: FloatArray = values[which]
        return zeros

    # --- stage 4: segmentation ----------------------------------------------------------

    def _segment(self, *, final: bool) -> list[Stroke]:
        """Find and measure the strokes completed among the smoothed samples of the run."""
        g0 = self._w0
        n = self._n_filtered - g0
        if n <= 0:
            return []
        w = self._w[:, :n]
        x = w[_F]
        lo = self._next_g - g0  # first local index to examine
        hi = n if final else n - 1  # the last sample waits for its successor
        cands: list[_Candidate] = []
        if hi > lo and (self._in_region or x[lo:hi].max() > self._region_thr):
            cands = self._events(x, lo, hi, g0, final=final)
        elif final and self._in_region:
            cands = self._close_region(g0 + n - 1)
        self._next_g = g0 + max(hi, lo)
        found: list[tuple[Stroke, _Evidence]] = []
        if len(cands) > 2:
            found = self._measure(w, g0, cands)
        else:
            for c in cands:
                one = self._measure_one(w, g0, c)
                if one is not None:
                    found.append(one)
        out = self._settle(found) if found else []
        return out + self._release_held()

    def _events(self, x: FloatArray, lo: int, hi: int, g0: int, *, final: bool) -> list[_Candidate]:
        thr = self._region_thr
        n = x.shape[0]
        # x[lo-1 .. hi] with -inf where no sample exists (before the run, after the data)
        run_first = self._run_first_g - g0
        if lo >= 1 and hi < n and not lo <= run_first < hi:
            window = x[lo - 1 : hi + 1]
        else:
            window = np.empty(hi - lo + 2)
            a, b = max(lo - 1, 0), min(hi + 1, n)
            window[a - (lo - 1) : b - (lo - 1)] = x[a:b]
            window[: a - (lo - 1)] = -math.inf
            window[b - (lo - 1) :] = -math.inf
            if lo <= run_first < hi:
                window[run_first - lo] = -math.inf  # the sample before a run is not its predecessor
        # Only the ends of the window can be -inf, so the steps hold no NaN.
        step = window[1:] - window[:-1]
        rises, falls = step > 0, step < 0
        above_w = window > thr
        above, prev_above = above_w[1:-1], above_w[:-2]
        # one code per sample, a bit per event kind; handled in bit order at each sample
        code: NDArray[np.integer[Any]] = (above > prev_above).view(np.uint8)  # _EV_START
        code = code | ((rises[:-1] > rises[1:]) & above).view(np.uint8) << 1  # _EV_MAX
        code |= ((falls[:-1] > falls[1:]) & above).view(np.uint8) << 2  # _EV_MIN
        code |= (prev_above > above).view(np.uint8) << 3  # _EV_END
        at = code.nonzero()[0]
        cands: list[_Candidate] = []
        keep = self._keep_frac
        in_region = self._in_region
        peak_n, peak_g = self._peak_n, self._peak_g
        dip_n, dip_g = self._dip_n, self._dip_g
        left, left_dip, left_open = self._left, self._left_dip, self._left_open
        vals = x[at + lo].tolist()
        inf = math.inf
        ev_start, ev_max, ev_min, ev_end = _EV_START, _EV_MAX, _EV_MIN, _EV_END
        run_first_g = self._run_first_g
        for g, k, v in zip((at + (g0 + lo)).tolist(), code[at].tolist(), vals, strict=True):
            if k & ev_start:
                in_region = True
                at_run_start = g == run_first_g
                left = g if at_run_start else g - 1
                left_dip, left_open = False, at_run_start
                peak_n, peak_g, dip_n, dip_g = -inf, -1, inf, -1
            if k & ev_max:
                if dip_n <= keep * peak_n and dip_n <= keep * v:
                    cands.append(
                        _Candidate(left, left_dip, left_open, peak_g, peak_n, dip_g, True, False)
                    )
                    left, left_dip, left_open = dip_g, True, False
                    peak_n, peak_g, dip_n = v, g, inf
                elif v > peak_n:
                    peak_n, peak_g, dip_n = v, g, inf
            elif k & ev_min:
                if v < dip_n:
                    dip_n, dip_g = v, g
            elif k & ev_end:  # g is the first sample below the threshold
                if peak_g >= 0:
                    cands.append(
                        _Candidate(left, left_dip, left_open, peak_g, peak_n, g, False, False)
                    )
                in_region = False
        self._in_region = in_region
        self._peak_n, self._peak_g, self._dip_n, self._dip_g = peak_n, peak_g, dip_n, dip_g
        self._left, self._left_dip, self._left_open = left, left_dip, left_open
        if final and in_region:
            cands += self._close_region(g0 + hi - 1)
        return cands

    def _close_region(self, last_g: int) -> list[_Candidate]:
        """Close the region at the end of a run: its last stroke may be cut off (open end)."""
        out = []
        if self._peak_g >= 0:
            out.append(
                _Candidate(
                    self._left,
                    self._left_dip,
                    self._left_open,
                    self._peak_g,
                    self._peak_n,
                    last_g,
                    False,
                    True,
                )
            )
        self._in_region = False
        self._peak_n, self._peak_g, self._dip_n, self._dip_g = -math.inf, -1, math.inf, -1
        return out

    # --- stage 5: measure and check -----------------------------------------------------

    def _measure_one(
        self, w: FloatArray, g0: int, c: _Candidate
    ) -> tuple[Stroke, _Evidence] | None:
        """:meth:`_measure` for one candidate, in scalars: a stream finds strokes one by one,
        and the vectorised form's fixed cost (≈ 60 numpy calls) would dominate there."""
        s = self.settings
        peak_n = c.peak_n
        if peak_n < s.min_stroke_force_n:
            return None
        x = w[_F]
        t = w[_T]
        left, peak, right = c.left - g0, c.peak - g0, c.right - g0
        level = s.boundary_fraction * peak_n
        edge = self._half  # the smoothing pads a run's edges; the knock rule creates no crossing
        below = (x[left:peak] < level).nonzero()[0]
        found_start = below.size > 0
        if found_start:
            j = left + int(below[-1])
            found_start = not c.left_open or j >= left + edge
        if found_start:
            start_pos = j + _frac1(float(x[j]), float(x[min(j + 1, peak)]), level)
        else:
            start_pos = float(left)
        below = (x[peak + 1 : right + 1] < level).nonzero()[0]
        found_end = below.size > 0
        if found_end:
            e = peak + 1 + int(below[0])
            found_end = not c.right_open or e <= right - edge
        if found_end:
            end_pos = (e - 1) + _frac1(float(x[max(e - 1, peak)]), float(x[e]), level)
        else:
            end_pos = float(right)
        if (c.left_open and not found_start) or (c.right_open and not found_end):
            self.incomplete_strokes += 1
            return None
        n = t.shape[0]
        start_s = _time_at1(t, start_pos, n)
        end_s = _time_at1(t, end_pos, n)
        duration = end_s - start_s
        if not s.min_stroke_duration_s <= duration <= s.max_stroke_duration_s:
            return None
        impulse = _integral1(t, x, start_pos, end_pos)
        mean_force = impulse / duration
        first = math.ceil(start_pos)
        last = max(math.floor(end_pos), first)
        tilt, direction = _tilt_and_direction1(w, first, last)
        turn: float | None = None
        late = 0.0
        gc = w[_GC]
        if not np.isnan(gc[max(math.floor(start_pos), 0) : last + 2]).any():
            turn = _integral1(t, gc, start_pos, end_pos)
            late = _integral1(t, gc, end_pos - (end_pos - start_pos) / 3, end_pos)
        evidence = _Evidence(
            c.left if c.left_dip else -1,
            float(x[left]),
            c.right if c.right_dip else -1,
            float(x[right]),
            direction >= 0,
            turn,
            late,
        )
        saturated = False
        if self.force_limit_n is not None:
            raw_max = float(w[_RAW, first : last + 1].max())
            saturated = raw_max >= self.force_limit_n - _SATURATION_TOLERANCE_N
        area = self.contact_area_mm2
        stroke = Stroke(
            start_s,
            end_s,
            peak_n,
            mean_force,
            impulse,
            None if area is None else mean_force / area * 1000.0,
            tilt,
            "pull" if direction >= 0 else "push",
            saturated,
            "unknown",  # decided by _settle, once the next stroke's peak is known
            turn,
        )
        return stroke, evidence

    def _settle(self, found: Sequence[tuple[Stroke, _Evidence]]) -> list[Stroke]:
        """Give measured strokes their patterns, in time order, and keep them.

        Whether the edge stayed on the skin at a dip depends on both strokes' peaks (the dip
        against the smaller one), so a stroke ending at a dip is held until the stroke after it
        is measured — or until it is clear that none will be (:meth:`_release_held`).
        """
        out: list[Stroke] = []
        for stroke, ev in found:
            if self._held is not None:
                held, held_ev = self._held
                self._held = None
                after = stroke.peak_force_n if ev.left_g == held_ev.right_g else None
                out.append(self._classified(held, held_ev, after))
            if ev.right_g >= 0:
                self._held = (stroke, ev)
            else:
                out.append(self._classified(stroke, ev, None))
        self.strokes.extend(out)
        return out

    def _release_held(self, *, at_end: bool = False) -> list[Stroke]:
        """The held stroke, if the one after it is no longer being built (its region ended, or
        it was not a stroke) or the data ended: judged on its own peak at its right."""
        if self._held is None:
            return []
        if not at_end and self._in_region and self._left == self._held[1].right_g:
            return []
        held, held_ev = self._held
        self._held = None
        stroke = self._classified(held, held_ev, None)
        self.strokes.append(stroke)
        return [stroke]

    def _classified(self, stroke: Stroke, ev: _Evidence, next_peak_n: float | None) -> Stroke:
        """``stroke`` with its pattern; strokes come here in time order."""
        lift = self.settings.boundary_fraction
        peak = stroke.peak_force_n
        prev = self._prev_join
        same_way: bool | None = None
        if ev.left_g >= 0 and prev is not None and prev[0] == ev.left_g:
            joined_left = ev.left_n >= lift * min(peak, prev[2])
            same_way = (prev[1] == ev.pull) if joined_left else None
        else:  # a dip after something that was not kept as a stroke
            joined_left = ev.left_g >= 0 and ev.left_n >= lift * peak
        joined_right = ev.right_g >= 0 and ev.right_n >= lift * min(
            peak, peak if next_peak_n is None else next_peak_n
        )
        self._prev_join = None if ev.right_g < 0 else (ev.right_g, ev.pull, peak)
        pattern = classify(
            ev.turn_deg,
            None if ev.turn_deg is None else ev.late_turn_deg,
            joined_left=joined_left,
            joined_right=joined_right,
            same_way_as_left=same_way,
            settings=self.settings,
        )
        return stroke._replace(pattern=pattern)

    def _measure(
        self, w: FloatArray, g0: int, cands: Sequence[_Candidate]
    ) -> list[tuple[Stroke, _Evidence]]:
        s = self.settings
        left = np.fromiter((c.left - g0 for c in cands), np.intp, len(cands))
        right = np.fromiter((c.right - g0 for c in cands), np.intp, len(cands))
        peak = np.fromiter((c.peak - g0 for c in cands), np.intp, len(cands))
        peak_n = np.fromiter((c.peak_n for c in cands), np.float64, len(cands))
        left_open = np.fromiter((c.left_open for c in cands), bool, len(cands))
        right_open = np.fromiter((c.right_open for c in cands), bool, len(cands))
        strong = peak_n >= s.min_stroke_force_n
        if not np.any(strong):
            return []
        left, right, peak, peak_n = left[strong], right[strong], peak[strong], peak_n[strong]
        left_open, right_open = left_open[strong], right_open[strong]
        x = w[_F]
        t = w[_T]
        level = s.boundary_fraction * peak_n

        # start: last sample below the level in [left, peak); the crossing follows it
        # Where a region touches the edge of a run (data began or resumed mid-contact, or
        # stopped), the smoothing is padded there: a crossing within that margin is not
        # evidence that the stroke began or ended inside the data.
        edge = self._half  # the smoothing pads a run's edges; the knock rule creates no crossing
        below_start = _last_below(x, left, peak, level)
        found_start = (below_start >= 0) & (~left_open | (below_start >= left + edge))
        j = np.where(found_start, below_start, left)
        start_pos = np.where(
            found_start,
            j + _frac(x[j], x[np.minimum(j + 1, peak)], level),
            left.astype(np.float64),
        )
        # end: first sample below the level in (peak, right]; the crossing precedes it
        below_end = _first_below(x, peak + 1, right + 1, level)
        found_end = (below_end >= 0) & (~right_open | (below_end <= right - edge))
        e = np.where(found_end, below_end, right)
        end_pos = np.where(
            found_end,
            (e - 1) + _frac(x[np.maximum(e - 1, peak)], x[e], level),
            right.astype(np.float64),
        )
        incomplete = (left_open & ~found_start) | (right_open & ~found_end)
        left_dip = np.fromiter((c.left_dip for c in cands), bool, len(cands))[strong]
        right_dip = np.fromiter((c.right_dip for c in cands), bool, len(cands))[strong]
        joined_left = np.where(left_dip, left + g0, -1)
        joined_right = np.where(right_dip, right + g0, -1)
        start_s = _time_at(t, start_pos)
        end_s = _time_at(t, end_pos)
        duration = end_s - start_s
        ok = (
            ~incomplete
            & (duration >= s.min_stroke_duration_s)
            & (duration <= s.max_stroke_duration_s)
        )
        self.incomplete_strokes += int(np.count_nonzero(incomplete))
        if not np.any(ok):
            return []
        start_pos, end_pos, start_s, end_s = start_pos[ok], end_pos[ok], start_s[ok], end_s[ok]
        peak_n = peak_n[ok]
        joined_left, joined_right = joined_left[ok], joined_right[ok]
        impulse = _integral(t, x, start_pos, end_pos)
        duration = end_s - start_s
        mean_force = impulse / duration
        first = np.ceil(start_pos).astype(np.intp)
        last = np.floor(end_pos).astype(np.intp)
        last = np.maximum(last, first)
        tilt, direction = _tilt_and_direction(w, first, last)
        turns: list[float | None] = [None] * first.size
        late = np.zeros(first.size)
        span = w[_GC, int(first[0]) - 1 if first[0] > 0 else 0 : int(last[-1]) + 2]
        if not np.isnan(span).all():  # a tool or file without a gyroscope has no turn
            no_gyro = np.isnan(w[_GC])
            gc_known = np.where(no_gyro, 0.0, w[_GC])
            turn, late = _integral(
                t, gc_known, (start_pos, end_pos - (end_pos - start_pos) / 3), end_pos
            )
            unknown_turn = (
                _segment_max(
                    no_gyro.astype(np.float64),
                    np.maximum(first - 1, 0),
                    np.minimum(last + 1, t.size - 1),
                )
                > 0
            )
            turns = [
                None if u else v for u, v in zip(unknown_turn.tolist(), turn.tolist(), strict=True)
            ]
        evidence = [
            _Evidence(jl, float(x[jl - g0]) if jl >= 0 else 0.0,
                      jr, float(x[jr - g0]) if jr >= 0 else 0.0, pull, tn, lt)
            for jl, jr, pull, tn, lt in zip(
                joined_left.tolist(),
                joined_right.tolist(),
                (direction >= 0).tolist(),
                turns,
                late.tolist(),
                strict=True,
            )
        ]  # fmt: skip
        saturated = np.zeros(first.size, dtype=bool)
        if self.force_limit_n is not None:
            raw_max = _segment_max(w[_RAW], first, last)
            saturated = raw_max >= self.force_limit_n - _SATURATION_TOLERANCE_N
        area = self.contact_area_mm2
        pressure: list[float | None] = (
            [None] * int(mean_force.size) if area is None else (mean_force / area * 1000.0).tolist()
        )
        strokes = list(
            map(
                Stroke._make,
                zip(
                    start_s.tolist(),
                    end_s.tolist(),
                    peak_n.tolist(),
                    mean_force.tolist(),
                    impulse.tolist(),
                    pressure,
                    tilt.tolist(),
                    np.where(direction >= 0, "pull", "push").tolist(),
                    saturated.tolist(),
                    ["unknown"] * len(turns),  # decided by _settle
                    turns,
                    strict=True,
                ),
            )
        )
        return list(zip(strokes, evidence, strict=True))


# --- vectorised helpers -------------------------------------------------------------------


def _steps(t: FloatArray, before: float | None) -> FloatArray:
    """Time steps into each sample of ``t`` (from ``before`` if known, else from ``t[0]``)."""
    if before is None:
        return t[1:] - t[:-1]
    dt = np.empty_like(t)
    dt[0] = t[0] - before
    np.subtract(t[1:], t[:-1], out=dt[1:])
    return dt


def _gyro_z(gyr_dps: ArrayLike | None, n: int) -> FloatArray:
    """The z rate column of ``gyr_dps`` (n, 3), or NaN where there is no gyroscope."""
    if gyr_dps is None:
        return np.full(n, math.nan)
    g = np.asarray(gyr_dps, dtype=np.float64)
    if g.shape != (n, 3):
        raise SignalInputError(f"gyr_dps must have shape ({n}, 3), not {g.shape}")
    z: FloatArray = np.where(np.isfinite(g[:, 2]), g[:, 2], math.nan)
    return z


def _shaped_chunk(
    t_s: ArrayLike, force_n: ArrayLike, acc_g: ArrayLike, gyr_dps: ArrayLike | None
) -> Chunk:
    """One fed chunk as float arrays; SignalInputError at once if the shapes do not fit."""
    if type(t_s) is np.ndarray and type(force_n) is np.ndarray and type(acc_g) is np.ndarray:
        n = t_s.shape[0] if t_s.ndim else -1  # the usual case: the arrays are already right
        if (
            t_s.dtype == _F64 == force_n.dtype == acc_g.dtype
            and t_s.shape == (n,)
            and force_n.shape == (n,)
            and acc_g.shape == (n, 3)
        ):
            return t_s, force_n, acc_g, _gyro_z(gyr_dps, n)
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    f = np.asarray(force_n, dtype=np.float64).reshape(-1)
    a = np.asarray(acc_g, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 3:
        raise SignalInputError(f"acc_g must have shape (n, 3), not {a.shape}")
    if not t.shape[0] == f.shape[0] == a.shape[0]:
        raise SignalInputError(
            f"t_s, force_n and acc_g differ in length: {t.shape[0]}, {f.shape[0]}, {a.shape[0]}"
        )
    return t, f, a, _gyro_z(gyr_dps, t.shape[0])


def _chunk_problem(
    t: FloatArray, f: FloatArray, a: FloatArray, *, after_s: float | None
) -> str | None:
    """What is wrong with a chunk's values (naming the sample), or None."""
    finite = np.isfinite(t) & np.isfinite(f) & np.isfinite(a).all(axis=1)
    if not finite.all():
        return f"sample {int(np.flatnonzero(~finite)[0])} of a chunk holds a non-finite value"
    steps = np.diff(t, prepend=-math.inf if after_s is None else after_s)
    if not np.all(steps > 0):
        k = int(np.flatnonzero(steps <= 0)[0])
        return f"time does not increase at sample {k} of a chunk (t = {t[k]!r} s)"
    return None


def _fill(rows: FloatArray, pending: Sequence[Chunk]) -> None:
    """Write checked-shape chunks into ``rows`` (8, n), a column per sample (_F zeroed; _GC is
    written by the smoothing stage)."""
    i = 0
    for t, f, a, gz in pending:
        k = t.shape[0]
        rows[_T, i : i + k] = t
        rows[_RAW, i : i + k] = f
        rows[_AX : _AZ + 1, i : i + k] = a.T
        rows[_GZ, i : i + k] = gz
        i += k
    rows[_F] = 0.0


def _ranges(starts: IntArray, stops: IntArray) -> tuple[IntArray, IntArray]:
    """Concatenated ``arange(start, stop)`` for each pair, and each range's offset in it."""
    lengths = np.maximum(stops - starts, 0)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.intp)
    total = int(lengths.sum())
    flat = np.arange(total, dtype=np.intp) - np.repeat(offsets - starts, lengths)
    return flat, offsets


def _last_below(x: FloatArray, lo: IntArray, hi: IntArray, level: FloatArray) -> IntArray:
    """Per range [lo, hi): the last index where x < level, or -1."""
    flat, offsets = _ranges(lo, hi)
    lengths = np.maximum(hi - lo, 0)
    hit = np.where(x[flat] < np.repeat(level, lengths), flat, -1)
    out = np.full(lo.size, -1, dtype=np.intp)
    nonempty = lengths > 0
    if flat.size:
        out[nonempty] = np.maximum.reduceat(hit, offsets[nonempty])
    return out


def _first_below(x: FloatArray, lo: IntArray, hi: IntArray, level: FloatArray) -> IntArray:
    """Per range [lo, hi): the first index where x < level, or -1."""
    flat, offsets = _ranges(lo, hi)
    lengths = np.maximum(hi - lo, 0)
    big = np.iinfo(np.intp).max
    hit = np.where(x[flat] < np.repeat(level, lengths), flat, big)
    out = np.full(lo.size, -1, dtype=np.intp)
    nonempty = lengths > 0
    if flat.size:
        first = np.minimum.reduceat(hit, offsets[nonempty])
        out[nonempty] = np.where(first == big, -1, first)
    return out


def _frac(a: FloatArray, b: FloatArray, level: FloatArray) -> FloatArray:
    """Where between samples valued a and b the line crosses level (0..1)."""
    span = b - a
    safe = np.where(span == 0, 1.0, span)
    frac: FloatArray = np.clip(np.where(span == 0, 0.0, (level - a) / safe), 0.0, 1.0)
    return frac


def _time_at(t: FloatArray, pos: FloatArray) -> FloatArray:
    i = np.clip(np.floor(pos).astype(np.intp), 0, t.size - 1)
    j = np.minimum(i + 1, t.size - 1)
    out: FloatArray = t[i] + (pos - i) * (t[j] - t[i])
    return out


@overload
def _integral(t: FloatArray, x: FloatArray, a: FloatArray, b: FloatArray) -> FloatArray: ...
@overload
def _integral(
    t: FloatArray, x: FloatArray, a: tuple[FloatArray, FloatArray], b: FloatArray
) -> tuple[FloatArray, FloatArray]: ...
def _integral(
    t: FloatArray, x: FloatArray, a: FloatArray | tuple[FloatArray, FloatArray], b: FloatArray
) -> FloatArray | tuple[FloatArray, FloatArray]:
    """Trapezoidal ∫x dt between fractional sample positions a and b (a pair of ``a``: both
    integrals, from one running sum)."""
    # twice the running integral (halving is exact, so it is applied where it is read)
    trapezoids = x[1:] + x[:-1]
    trapezoids *= t[1:] - t[:-1]
    cum2 = np.empty(x.size)
    cum2[0] = 0.0
    np.cumsum(trapezoids, out=cum2[1:])

    def at(pos: FloatArray) -> FloatArray:
        i = np.clip(np.floor(pos).astype(np.intp), 0, x.size - 1)
        j = np.minimum(i + 1, x.size - 1)
        u = pos - i
        step = t[j] - t[i]
        part: FloatArray = 0.5 * cum2[i] + step * (u * x[i] + 0.5 * u * u * (x[j] - x[i]))
        return part

    end = at(b)
    if isinstance(a, tuple):
        return end - at(a[0]), end - at(a[1])
    out: FloatArray = end - at(a)
    return out


def _segment_max(v: FloatArray, first: IntArray, last: IntArray) -> FloatArray:
    flat, offsets = _ranges(first, last + 1)
    out: FloatArray = np.maximum.reduceat(v[flat], offsets)
    return out


def _tilt_and_direction(
    w: FloatArray, first: IntArray, last: IntArray
) -> tuple[FloatArray, FloatArray]:
    """Mean handle tilt (deg) from gravity, and the sign of motion along the handle's projection.

    Motion: with the tilt θ from the mean acceleration, the acceleration along the stroke in
    the skin plane is ``a = ax·cosθ − az·sinθ`` (gravity cancels). Its running integral (minus
    the mean, so the stroke starts and ends at rest) is the velocity; the sign of the summed
    velocity, ``−Σ k·(a_k − ā)``, is the direction.
    """
    lo, hi = int(first[0]), int(last[-1]) + 1
    bounds = np.empty(2 * first.size, dtype=np.intp)
    bounds[0::2] = first - lo
    bounds[1::2] = last + 1 - lo
    bounds = bounds[:-1]  # the last range runs to the end of the slice
    counts = (last - first + 1).astype(np.float64)
    offset = float(lo)
    k_global = np.arange(lo, hi, dtype=np.float64) - offset

    def sums(v: FloatArray) -> FloatArray:
        seg: FloatArray = np.add.reduceat(v, bounds)[0::2]
        return seg

    ax, ay, az = w[_AX, lo:hi], w[_AY, lo:hi], w[_AZ, lo:hi]
    sx, sy, sz = sums(ax), sums(ay), sums(az)
    theta = np.arctan2(sx, np.hypot(sy, sz))
    cos_t, sin_t = np.cos(theta), np.sin(theta)
    # Σ (k - first)·a over each range, from Σ k·a with k counted from the first range
    kx, kz = sums(k_global * ax), sums(k_global * az)
    base = first - offset
    moment_x = kx - base * sx
    moment_z = kz - base * sz
    along_sum = cos_t * sx - sin_t * sz
    moment = cos_t * moment_x - sin_t * moment_z
    k_sum = counts * (counts - 1) / 2
    direction: FloatArray = -(moment - along_sum / counts * k_sum)
    return np.degrees(theta), direction


def _frac1(a: float, b: float, level: float) -> float:
    """:func:`_frac` of one pair."""
    span = b - a
    if span == 0:
        return 0.0
    return min(max((level - a) / span, 0.0), 1.0)


def _time_at1(t: FloatArray, pos: float, n: int) -> float:
    i = min(max(math.floor(pos), 0), n - 1)
    j = min(i + 1, n - 1)
    ti = float(t[i])
    return ti + (pos - i) * (float(t[j]) - ti)


def _integral1(t: FloatArray, x: FloatArray, a: float, b: float) -> float:
    """:func:`_integral` of one stretch: whole trapezoids from floor(a) to floor(b) and the
    parts before a and after b taken off."""
    n = x.shape[0]
    ia = min(max(math.floor(a), 0), n - 1)
    ib = min(max(math.floor(b), 0), n - 1)
    xs = x[ia : ib + 1]
    ts = t[ia : ib + 1]
    whole = 0.5 * float(np.dot(xs[1:] + xs[:-1], ts[1:] - ts[:-1]))

    def part(i: int, pos: float) -> float:
        j = min(i + 1, n - 1)
        u = pos - i
        xi = float(x[i])
        return float(t[j] - t[i]) * (u * xi + 0.5 * u * u * (float(x[j]) - xi))

    return whole + part(ib, b) - part(ia, a)


def _tilt_and_direction1(w: FloatArray, first: int, last: int) -> tuple[float, float]:
    """:func:`_tilt_and_direction` of one stroke."""
    acc = w[_AX : _AZ + 1, first : last + 1]
    count = acc.shape[1]
    sx, sy, sz = acc.sum(axis=1).tolist()
    mx, _, mz = (acc @ np.arange(count, dtype=np.float64)).tolist()
    theta = math.atan2(sx, math.hypot(sy, sz))
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    along_sum = cos_t * sx - sin_t * sz
    moment = cos_t * mx - sin_t * mz
    k_sum = count * (count - 1) / 2
    return math.degrees(theta), -(moment - along_sum / count * k_sum)


def analyze_arrays(
    t_s: ArrayLike,
    force_n: ArrayLike,
    acc_g: ArrayLike,
    gyr_dps: ArrayLike | None = None,
    *,
    rate_hz: float | None = None,
    settings: AnalysisSettings | None = None,
    contact_area_mm2: float | None = None,
    force_limit_n: float | None = None,
) -> Analysis:
    """Analyse a whole recorded session held in memory.

    ``rate_hz`` defaults to the reciprocal of the median sample interval.
    """
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    if rate_hz is None:
        if t.size < 2:
            raise SignalInputError("at least two samples are needed to know the sample rate")
        rate_hz = 1.0 / float(np.median(np.diff(t)))
    analyzer = StrokeAnalyzer(
        rate_hz=rate_hz,
        settings=settings,
        contact_area_mm2=contact_area_mm2,
        force_limit_n=force_limit_n,
        batch_s=0.0,
    )
    analyzer.feed(t, force_n, acc_g, gyr_dps)
    if analyzer.rejections:
        raise SignalInputError(analyzer.rejections[0])
    analyzer.finish()
    return Analysis(analyzer.strokes, analyzer.summary(), analyzer.blind_spans_s)
