"""Calendar arithmetic in a store's time zone: ISO weeks, weekly hours expanded to dated intervals.

Pure functions without I/O. Local wall-clock times become aware datetimes through zoneinfo, so a
week or a shift that crosses a daylight-saving change has its true length.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

FIRST_YEAR, LAST_YEAR = 2000, 2100


@dataclass(frozen=True, slots=True)
class Week:
    """An ISO week (Monday 00:00 to the next Monday 00:00, local time) as aware instants."""

    monday: date
    starts_at: datetime
    ends_at: datetime

    def contains(self, moment: datetime) -> bool:
        """Tell whether the aware instant `moment` falls in this week."""
        return _utc(self.starts_at) <= _utc(moment) < _utc(self.ends_at)

    def previous(self, tz: ZoneInfo) -> Week:
        """Return the week before this one."""
        return week_of(self.monday - timedelta(days=7), tz)


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """Local hours of one ISO weekday (1 = Monday): a shift or the store's opening hours."""

    weekday: int
    starts_at: time
    ends_at: time


@dataclass(frozen=True, slots=True)
class Interval:
    """A dated interval: the local day and its aware start and end."""

    day: date
    starts_at: datetime
    ends_at: datetime

    @property
    def hours(self) -> float:
        return overlap_hours(self.starts_at, self.ends_at, self.starts_at, self.ends_at)


def _utc(moment: datetime) -> datetime:
    # Python compares and subtracts two datetimes of the same tzinfo by wall clock; UTC gives true instants
    return moment.astimezone(UTC)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """Return 00:00 of `day` in `tz` as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=tz)


def week_of(day: date, tz: ZoneInfo) -> Week:
    """Return the ISO week (Monday to Sunday) in `tz` that contains the local date `day`."""
    monday = day - timedelta(days=day.isoweekday() - 1)
    return Week(monday, local_midnight(monday, tz), local_midnight(monday + timedelta(days=7), tz))


def today_in(tz: ZoneInfo, now: datetime) -> date:
    """Return the local date of the aware instant `now` in `tz`."""
    return now.astimezone(tz).date()


def expand(hours: Iterable[WeeklyHours], tz: ZoneInfo, starts_at: datetime, ends_at: datetime) -> Iterator[Interval]:
    """Yield each weekly entry as a dated interval overlapping [starts_at, ends_at), in date order (unclipped)."""
    by_weekday: dict[int, list[WeeklyHours]] = {}
    for entry in hours:
        by_weekday.setdefault(entry.weekday, []).append(entry)
    day = starts_at.astimezone(tz).date()
    last = ends_at.astimezone(tz).date()
    while day <= last:
        for entry in sorted(by_weekday.get(day.isoweekday(), []), key=lambda e: e.starts_at):
            start = datetime.combine(day, entry.starts_at, tzinfo=tz)
            end = datetime.combine(day, entry.ends_at, tzinfo=tz)
            if _utc(start) < _utc(ends_at) and _utc(end) > _utc(starts_at):
                yield Interval(day, start, end)
        day += timedelta(days=1)


def overlap_hours(starts_at: datetime, ends_at: datetime, window_start: datetime, window_end: datetime) -> float:
    """Return the hours of [starts_at, ends_at) that fall inside [window_start, window_end)."""
    start = max(_utc(starts_at), _utc(window_start))
    end = min(_utc(ends_at), _utc(window_end))
    return max(0.0, (end - start).total_seconds() / 3600)


def clipped_hours(intervals: Iterable[Interval], window_start: datetime, window_end: datetime) -> float:
    """Return the total hours of `intervals` inside the window."""
    return sum(overlap_hours(i.starts_at, i.ends_at, window_start, window_end) for i in intervals)


class RangeError(ValueError):
    """A requested time range is not usable (naive, empty or too long)."""


def check_year(day: date) -> None:
    """Raise RangeError for a day outside the years 2000-2100 (the service's calendar)."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise RangeError(f"dates lie between the years {FIRST_YEAR} and {LAST_YEAR}")


def check_range(starts_at: datetime, ends_at: datetime, *, max_days: int) -> None:
    """Raise RangeError unless both ends are aware, starts_at < ends_at and the range spans <= max_days."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise RangeError("from and to need a time zone (e.g. 2026-12-01T00:00:00+08:00)")
    check_year(starts_at.date())
    check_year(ends_at.date())
    if _utc(starts_at) >= _utc(ends_at):
        raise RangeError("from must be before to")
    if _utc(ends_at) - _utc(starts_at) > timedelta(days=max_days):
        raise RangeError(f"the range may span at most {max_days} days")
