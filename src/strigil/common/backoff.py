"""Backoff: how long to wait before retry number ``failures``, as one pure function."""

from __future__ import annotations


def backoff_s(failures: int, *, first_s: float, cap_s: float) -> float:
    """Seconds before retry ``failures`` (0-based): ``first_s`` doubled per failure, capped.

    >>> [backoff_s(n, first_s=0.2, cap_s=1.0) for n in range(5)]
    [0.2, 0.4, 0.8, 1.0, 1.0]
    """
    return float(min(first_s * 2 ** min(max(failures, 0), 60), cap_s))
