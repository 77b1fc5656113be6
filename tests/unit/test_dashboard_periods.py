"""Weeks and weekly hours in a store's time zone (pure, no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from api.dashboard.periods import RangeError, WeeklyHours, check_range, clipped_hours, expand, overlap_hours, week_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def test_week_runs_monday_to_monday_in_local_time() -> None:
    week = week_of(date(2026, 11, 22), SHANGHAI)  # a Sunday
    assert week.monday == date(2026, 11, 16)
    assert week.starts_at == datetime(2026, 11, 15, 16, tzinfo=UTC)
    assert week.ends_at == datetime(2026, 11, 22, 16, tzinfo=UTC)
    assert week.previous(SHANGHAI).monday == date(2026, 11, 9)
    assert week.contains(datetime(2026, 11, 15, 16, tzinfo=UTC))  # Monday 00:00 local
    assert not week.contains(datetime(2026, 11, 15, 15, 59, tzinfo=UTC))  # Sunday 23:59 local, the week before
    assert not week.contains(week.ends_at)


def test_week_across_a_daylight_saving_change_is_one_hour_shorter() -> None:
    week = week_of(date(2026, 3, 25), BERLIN)  # clocks go forward on Sunday 29 March
    assert overlap_hours(week.starts_at, week.ends_at, week.starts_at, week.ends_at) == 7 * 24 - 1
    # a Sunday shift 01:00-04:00 that contains the missing hour is two hours long
    sunday = list(expand([WeeklyHours(7, time(1), time(4))], BERLIN, week.starts_at, week.ends_at))
    assert [d.hours for d in sunday] == [2.0]


def test_the_first_days_of_january_can_belong_to_the_previous_years_week() -> None:
    assert week_of(date(2027, 1, 1), SHANGHAI).monday == date(2026, 12, 28)


def test_expand_gives_dated_intervals_that_overlap_the_range() -> None:
    shifts = [WeeklyHours(1, time(8, 30), time(18)), WeeklyHours(3, time(9), time(12))]
    start = datetime(2026, 11, 16, 12, tzinfo=SHANGHAI)  # Monday noon
    end = datetime(2026, 11, 23, 9, tzinfo=SHANGHAI)  # next Monday 09:00
    days = list(expand(shifts, SHANGHAI, start, end))
    assert [d.day for d in days] == [date(2026, 11, 16), date(2026, 11, 18), date(2026, 11, 23)]
    assert days[0].starts_at == datetime(2026, 11, 16, 8, 30, tzinfo=SHANGHAI)  # unclipped
    assert clipped_hours(days, start, end) == 6 + 3 + 0.5


def test_expand_uses_local_dates_of_a_range_given_in_utc() -> None:
    # 2026-11-15T20:00Z is Monday 04:00 in Shanghai: Monday's shift is in, Sunday (no shift) is not
    days = list(expand([WeeklyHours(1, time(8), time(9))], SHANGHAI, datetime(2026, 11, 15, 20, tzinfo=UTC),
                       datetime(2026, 11, 16, 2, tzinfo=UTC)))  # fmt: skip
    assert [d.day for d in days] == [date(2026, 11, 16)]
    assert days[0].hours == 1.0


def test_overlap_hours_counts_only_the_part_inside_the_window() -> None:
    window = (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC))
    assert overlap_hours(datetime(2026, 1, 4, 23, tzinfo=UTC), datetime(2026, 1, 5, 2, tzinfo=UTC), *window) == 2
    assert overlap_hours(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC), *window) == 0


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "problem"),
    [
        (datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC), "time zone"),
        (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "before"),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, 0, 0, 1, tzinfo=UTC), "31 days"),
        (datetime(9999, 12, 31, tzinfo=UTC), datetime(9999, 12, 31, 1, tzinfo=UTC), "2000 and 2100"),
    ],
)
def test_check_range_refuses_naive_reversed_and_long_ranges(
    starts_at: datetime, ends_at: datetime, problem: str
) -> None:
    with pytest.raises(RangeError, match=problem):
        check_range(starts_at, ends_at, max_days=31)
    check_range(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC), max_days=31)
