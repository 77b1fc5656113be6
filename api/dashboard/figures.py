"""Summary figures of the dashboard: ratios, means and medians that are null when nothing was counted.

Pure functions without I/O; an empty week gives nulls, never a division by zero.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime


def ratio(numerator: float, denominator: float, *, digits: int = 4) -> float | None:
    """Return numerator / denominator rounded, or None when the denominator is zero."""
    if denominator == 0:
        return None
    return round(numerator / denominator, digits)


def mean(values: Sequence[float], *, digits: int = 2) -> float | None:
    """Return the arithmetic mean rounded, or None for no values."""
    return round(statistics.fmean(values), digits) if values else None


def median(values: Sequence[float], *, digits: int = 2) -> float | None:
    """Return the median (the mean of the middle two for an even count) rounded, or None for no values."""
    return round(statistics.median(values), digits) if values else None


def share_at_least(values: Sequence[float], threshold: float) -> float | None:
    """Return the share of values >= threshold, or None for no values."""
    return ratio(sum(1 for v in values if v >= threshold), len(values))


def days_between(earlier: datetime, later: datetime) -> float:
    """Return the days from `earlier` to `later` (negative if `later` comes first)."""
    return (later - earlier).total_seconds() / 86400
