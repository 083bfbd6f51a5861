"""Stroke patterns by rule (definitions of docs/tool-profile.md; reasoning in docs/algorithms.md).

The evidence for a stroke's pattern is three numbers the analyzer measures on it:

- ``turn_deg``: the turn of the tool about its own z axis over the stroke, the integral of the
  bias-corrected ``gyr_z_dps`` from the stroke's start to its end (signed; ``None`` without a
  gyroscope);
- ``late_turn_deg``: the part of that turn in the stroke's last third, by time;
- whether the edge was lifted on either side: a stroke that starts or ends at a dip of the split
  rule whose force stays at or above ``boundary_fraction`` (10 %) of the smaller of the two
  peaks is *joined* to its neighbour there (the edge stayed on the skin); where the force fell
  lower, or to nothing, the edge was lifted.

and one about its neighbour: whether the stroke joined on its left moved the other way.

Rules, first match wins:

1. ``|turn| ≥ hook_min_turn_deg`` and more than ``late_turn_share`` of it in the last third:
   ``j_stroke``.
2. ``|turn| ≥ fan_min_turn_deg`` with at most ``late_turn_share`` of it in the last third:
   ``fanning``.
3. ``|turn| ≥ straight_max_turn_deg``: a turn too large for a straight stroke but not a hook or
   an arc: ``unknown``.
4. Joined on either side: ``strumming`` — unless the stroke it is joined to on its left went the
   same way (a reversal is what strumming is): ``unknown``.
5. Lifted on both sides: ``linear`` — if the gyroscope showed no turn; without a gyroscope a turn
   cannot be ruled out: ``unknown``.

>>> from strigil.signal.settings import AnalysisSettings
>>> s = AnalysisSettings()
>>> classify(3.0, 1.0, joined_left=False, joined_right=False, same_way_as_left=None, settings=s)
'linear'
>>> classify(24.0, 20.0, joined_left=False, joined_right=False, same_way_as_left=None, settings=s)
'j_stroke'
>>> classify(-41.0, -12.0, joined_left=False, joined_right=False, same_way_as_left=None, settings=s)
'fanning'
>>> classify(2.0, 0.5, joined_left=True, joined_right=True, same_way_as_left=False, settings=s)
'strumming'
>>> classify(16.0, 4.0, joined_left=False, joined_right=False, same_way_as_left=None, settings=s)
'unknown'
"""

from __future__ import annotations

from collections.abc import Iterable

from strigil.signal.settings import AnalysisSettings
from strigil.signal.strokes import PATTERNS, Pattern

__all__ = ["PATTERNS", "Pattern", "classify", "pattern_counts", "pattern_mix_pct"]


def classify(
    turn_deg: float | None,
    late_turn_deg: float | None,
    *,
    joined_left: bool,
    joined_right: bool,
    same_way_as_left: bool | None,
    settings: AnalysisSettings,
) -> Pattern:
    """The pattern of one stroke from its evidence (see the module's rules).

    ``same_way_as_left`` is whether the stroke joined on the left moved in the same direction
    (``None`` when not joined on the left or that stroke is not known).
    """
    if turn_deg is not None and late_turn_deg is not None:
        turn = abs(turn_deg)
        # the share of the turn made in the last third, in the turn's own sense
        late = late_turn_deg / turn_deg if turn > 0 else 0.0
        if turn >= settings.hook_min_turn_deg and late > settings.late_turn_share:
            return "j_stroke"
        if turn >= settings.fan_min_turn_deg and late <= settings.late_turn_share:
            return "fanning"
        if turn >= settings.straight_max_turn_deg:
            return "unknown"
    if joined_left or joined_right:
        return "unknown" if same_way_as_left else "strumming"
    return "linear" if turn_deg is not None else "unknown"


def pattern_counts(patterns: Iterable[str]) -> dict[str, int]:
    """How many strokes of each pattern, every pattern named (0 where none).

    >>> pattern_counts(["linear", "linear", "unknown"])["linear"]
    2
    """
    counts: dict[str, int] = dict.fromkeys(PATTERNS, 0)
    for p in patterns:
        counts[p] += 1
    return counts


def pattern_mix_pct(counts: dict[str, int]) -> dict[str, float | None]:
    """Each pattern's share of the strokes, %, from :func:`pattern_counts` (None without any)."""
    total = sum(counts.values())
    return {p: round(n / total * 100, 1) if total else None for p, n in counts.items()}
