"""Dashboard figures: nulls for empty weeks, not errors (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

from api.dashboard.figures import days_between, mean, median, ratio, share_at_least


def test_ratio_of_nothing_is_null_not_a_division_error() -> None:
    assert ratio(0, 0) is None
    assert ratio(2, 3) == 0.6667
    assert ratio(0, 5) == 0.0


def test_mean_and_median_of_no_values_are_null() -> None:
    assert mean([]) is None and median([]) is None
    assert mean([1.0, 2.0, 9.0]) == 4.0
    assert median([1.0, 2.0, 9.0]) == 2.0
    assert median([1.0, 2.0, 4.0, 9.0]) == 3.0


def test_share_at_least_counts_the_threshold_itself() -> None:
    assert share_at_least([9, 10, 8, 3], 9) == 0.5
    assert share_at_least([], 9) is None


def test_days_between_is_fractional_and_signed() -> None:
    first = datetime(2026, 11, 10, tzinfo=UTC)
    assert days_between(first, datetime(2026, 11, 13, 12, tzinfo=UTC)) == 3.5
    assert days_between(first, datetime(2026, 11, 9, tzinfo=UTC)) == -1.0
