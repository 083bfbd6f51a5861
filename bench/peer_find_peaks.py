"""The peer a researcher would write: scipy.signal.find_peaks on low-passed force.

Run as a script it does what such a researcher's script does end to end: load the CSV with
``numpy.loadtxt``, low-pass, find peaks, and print the strokes as JSON. ``bench_analysis.py``
times it beside ``strigil analyze`` and scores both against the simulator's ground truth.

Choices (the sensible ones, tuned on the simulator's ``mixed`` scenario, not on its truth):
4th-order Butterworth low-pass at 10 Hz applied forwards and backwards (zero phase), zero at the
5th percentile of the session (the edge off the skin); peaks at
least 1.0 N high (the minimum stroke force), with a prominence of at least 30 % of their
height (the split rule), at least 0.15 s wide at the 10 % level; each stroke spans the width
of its peak at 90 % of its prominence (its 10 % crossings when the base is at zero).
"""

from __future__ import annotations

import json
import sys

import numpy as np
from scipy import signal


def find_strokes(
    t_s: np.ndarray, force_n: np.ndarray, *, rate_hz: float
) -> list[tuple[float, float, float]]:
    """(start_s, end_s, peak_force_n) of each stroke."""
    sos = signal.butter(4, 10.0, output="sos", fs=rate_hz)
    smooth = signal.sosfiltfilt(sos, force_n)
    smooth = smooth - np.percentile(
        smooth, 5
    )  # zero: the lowest few percent are the edge off the skin
    peaks, props = signal.find_peaks(
        smooth, height=1.0, prominence=0.3, distance=int(0.1 * rate_hz)
    )
    keep = props["prominences"] >= 0.3 * props["peak_heights"]
    peaks = peaks[keep]
    widths, _, left, right = signal.peak_widths(smooth, peaks, rel_height=0.9)
    ok = widths >= 0.15 * rate_hz
    idx = np.arange(t_s.size)
    starts = np.interp(left[ok], idx, t_s)
    ends = np.interp(right[ok], idx, t_s)
    return list(zip(starts.tolist(), ends.tolist(), smooth[peaks[ok]].tolist(), strict=True))


def main(path: str) -> None:
    with open(path) as fh:
        header_lines = 1 + sum(1 for line in fh if line.startswith("#"))
    data = np.loadtxt(path, delimiter=",", skiprows=header_lines)
    t_s, force_n = data[:, 0], data[:, 1]
    rate_hz = 1.0 / float(np.median(np.diff(t_s)))
    strokes = find_strokes(t_s, force_n, rate_hz=rate_hz)
    json.dump([{"start_s": a, "end_s": b, "peak_force_n": p} for a, b, p in strokes], sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
