"""How well detected strokes match ground truth (for tests, benchmarks and validation studies).

A detected stroke matches a true one when their overlap is at least half their union
(intersection over union ≥ 0.5); each stroke matches at most one other. True strokes that
overlap lost data — a disconnect widened by the 50 ms of context the analysis needs to place a
stroke's edge next to it, and every stroke of a continuous-contact chain it touches — cannot be
seen and are left out of the score. Whether a stroke could be seen is decided on the true
stroke: a detection matched to a seen one counts even if its own edge touches lost data; an
unmatched detection is left out only if it overlaps lost data itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from strigil.signal.settings import AnalysisSettings
from strigil.signal.strokes import Stroke, stroke_columns, summarize

BRIDGED_GAP_S = AnalysisSettings().max_bridged_gap_s
EDGE_CONTEXT_S = 0.05
"""Context either side of a disconnect that the analysis needs to place a stroke's edge."""


@dataclass(frozen=True, slots=True)
class Accuracy:
    true_count: int
    detected_count: int
    matched: int
    f1: float
    mean_abs_duration_error_s: float
    """Mean |detected − true| duration over matched strokes."""
    median_abs_peak_error_frac: float
    """Median |detected − true| / true peak force over matched strokes."""
    count_error_frac: float
    """(detected − true) / true stroke count."""
    treatment_time_error_frac: float
    """(detected − true) / true treatment time."""

    def as_row(self) -> str:
        return (
            f"F1 {self.f1:.4f}  dur err {self.mean_abs_duration_error_s * 1000:5.1f} ms  "
            f"peak err {self.median_abs_peak_error_frac * 100:4.2f} %  "
            f"count err {self.count_error_frac * 100:+5.2f} %  "
            f"treat err {self.treatment_time_error_frac * 100:+5.2f} %  "
            f"(true {self.true_count}, found {self.detected_count})"
        )


def _overlaps(a0: float, a1: float, spans: Sequence[tuple[float, float]]) -> bool:
    return any(a0 < b1 and b0 < a1 for b0, b1 in spans)


def _blind_contact_chains(
    true: Sequence[Stroke], blind_spans_s: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Widen each blind span over the chain of strokes it touches.

    Strokes that follow each other without the edge leaving the skin (strumming) share their
    boundaries; whether a dip is a boundary depends on the peaks on both sides, so when part of
    such a chain is unseen, none of its boundaries can be checked.
    """
    spans = list(blind_spans_s)
    if not spans or not true:
        return spans
    chains: list[tuple[float, float]] = []
    start, end = true[0].start_s, true[0].end_s
    for s in true[1:]:
        if s.start_s - end < 1e-6:
            end = max(end, s.end_s)
        else:
            chains.append((start, end))
            start, end = s.start_s, s.end_s
    chains.append((start, end))
    widened = list(spans)
    for a, b in chains:
        if _overlaps(a, b, spans):
            widened.append((a, b))
    return widened


def match_strokes(
    detected: Sequence[Stroke], true: Sequence[Stroke], *, min_iou: float = 0.5
) -> list[tuple[int, int]]:
    """Pairs (detected index, true index) with IoU ≥ ``min_iou``, greedy by start time.

    Both lists must be sorted by start; strokes do not overlap within one list, so each
    detection can only match its nearest true neighbours.
    """
    pairs: list[tuple[int, int]] = []
    [true_starts] = stroke_columns(true, "start_s")
    used = np.zeros(len(true), dtype=bool)
    for i, d in enumerate(detected):
        k = int(np.searchsorted(true_starts, d.start_s))
        best, best_iou = -1, min_iou
        for j in range(max(k - 2, 0), min(k + 2, len(true))):
            if used[j]:
                continue
            tr = true[j]
            inter = min(d.end_s, tr.end_s) - max(d.start_s, tr.start_s)
            if inter <= 0:
                continue
            union = max(d.end_s, tr.end_s) - min(d.start_s, tr.start_s)
            iou = inter / union
            if iou >= best_iou:
                best, best_iou = j, iou
        if best >= 0:
            used[best] = True
            pairs.append((i, best))
    return pairs


def score(
    detected: Sequence[Stroke],
    true: Sequence[Stroke],
    *,
    blind_spans_s: Sequence[tuple[float, float]] = (),
    detected_treatment_time_s: float | None = None,
) -> Accuracy:
    """Score detections against truth; ``blind_spans_s`` are intervals with no data.

    ``detected_treatment_time_s`` is the analysis' own figure (which knows where data was
    missing); by default it is recomputed from ``detected``.
    """
    lost_s = blind_spans_s
    # A disconnect also hides the context the analysis needs to place a stroke's end or start
    # next to it (the smoothing's half window): a stroke ending 10 ms before one is not seen.
    widened = [
        (a - EDGE_CONTEXT_S, b + EDGE_CONTEXT_S) if b - a > BRIDGED_GAP_S else (a, b)
        for a, b in blind_spans_s
    ]
    blind_spans_s = _blind_contact_chains(true, widened)
    # Whether a stroke could be seen is a property of the true stroke: a detection matched to
    # a seen true stroke counts even if its own edge touches the lost data.
    seen = [not _overlaps(s.start_s, s.end_s, blind_spans_s) for s in true]
    all_pairs = match_strokes(detected, true)
    truth_of = dict(all_pairs)
    kept = [
        i
        for i, d in enumerate(detected)
        if (
            seen[truth_of[i]] if i in truth_of else not _overlaps(d.start_s, d.end_s, blind_spans_s)
        )
    ]
    seen_true = [s for s, ok in zip(true, seen, strict=True) if ok]
    seen_det = [detected[i] for i in kept]
    index_of_true = {j: k for k, j in enumerate(j for j, ok in enumerate(seen) if ok)}
    index_of_det = {i: k for k, i in enumerate(kept)}
    pairs = [(index_of_det[i], index_of_true[j]) for i, j in all_pairs if seen[j]]
    matched = len(pairs)
    precision = matched / len(seen_det) if seen_det else 1.0
    recall = matched / len(seen_true) if seen_true else 1.0
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    dur_err = [abs(seen_det[i].duration_s - seen_true[j].duration_s) for i, j in pairs]
    peak_err = [
        abs(seen_det[i].peak_force_n - seen_true[j].peak_force_n) / seen_true[j].peak_force_n
        for i, j in pairs
    ]
    # Treatment time compares what could be seen: the true strokes clear of data lost for
    # longer than the analysis bridges, grouped into bouts the way the analysis groups them
    # (time without data is not a pause). A disconnect at a bout's end hides strokes no
    # analysis can count; short bursts of loss hide nothing.
    long_lost = [(a, b) for a, b in lost_s if b - a > BRIDGED_GAP_S]
    visible = [s for s in true if not _overlaps(s.start_s, s.end_s, long_lost)]
    true_treatment = summarize(
        visible, session_duration_s=0.0, lost_samples=0, blind_spans_s=long_lost
    ).treatment_time_s
    if detected_treatment_time_s is None:
        detected_treatment_time_s = summarize(
            detected, session_duration_s=0.0, lost_samples=0
        ).treatment_time_s
    treat_err = (
        (detected_treatment_time_s - true_treatment) / true_treatment
        if true_treatment
        else math.nan
    )
    return Accuracy(
        true_count=len(seen_true),
        detected_count=len(seen_det),
        matched=matched,
        f1=f1,
        mean_abs_duration_error_s=float(np.mean(dur_err)) if dur_err else math.nan,
        median_abs_peak_error_frac=float(np.median(peak_err)) if peak_err else math.nan,
        count_error_frac=(len(seen_det) - len(seen_true)) / len(seen_true)
        if seen_true
        else math.nan,
        treatment_time_error_frac=treat_err,
    )
