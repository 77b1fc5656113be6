"""Slot search: the earliest times a store can serve an operation (pure: data in, slots out, no I/O).

A slot is a technician, a bay and a period of the operation's labour time such that:
- the technician has the operation's skill and is on shift for the whole period;
- the bay is free for the whole period (periods are half-open, so back-to-back jobs fit);
- the period lies within the store's opening hours of one local day;
- every part is available by that local day (in stock now, or arriving on `incoming_on`).

Shifts and opening hours are local wall-clock times in the store's time zone; slots are aware
datetimes in that zone. Candidate starts are the day's opening time plus whole steps. At most one
slot per start time is returned (the lowest technician id, then the lowest bay id), so the earliest
N slots are N different times. The same inputs always give the same slots.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Hours:
    """A local wall-clock span of one weekday (an opening or a shift)."""

    opens: time
    closes: time

    def covers(self, starts: datetime, ends: datetime) -> bool:
        """Tell whether the naive local period [starts, ends) lies within these hours of starts' day."""
        day = starts.date()
        return (
            ends.date() == day
            and datetime.combine(day, self.opens) <= starts
            and ends <= datetime.combine(day, self.closes)
        )


@dataclass(frozen=True, slots=True)
class PartNeed:
    part_no: str
    qty: int


@dataclass(frozen=True, slots=True)
class Operation:
    op_code: str
    skill: str
    labour: timedelta
    parts: tuple[PartNeed, ...] = ()


@dataclass(frozen=True, slots=True)
class Technician:
    id: int
    skills: frozenset[str]
    shifts: Mapping[int, Hours]  # ISO weekday (1 = Monday) -> local shift


@dataclass(frozen=True, slots=True)
class PartStock:
    """A store's stock of one part: free now is on_hand - reserved; the rest arrives on incoming_on."""

    part_no: str
    on_hand: int
    reserved: int = 0
    incoming_qty: int = 0
    incoming_on: date | None = None

    def ready_on(self, qty: int) -> date | None:
        """Return the first day `qty` more can be had (date.min: now), or None if it never can."""
        if self.on_hand - self.reserved >= qty:
            return date.min
        if self.incoming_on is not None and self.on_hand + self.incoming_qty - self.reserved >= qty:
            return self.incoming_on
        return None


class Period(NamedTuple):
    """A busy period [starts_at, ends_at) (a tuple: thousands are built per search)."""

    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Slot:
    technician_id: int
    bay_id: int
    starts_at: datetime
    ends_at: datetime


class Timeline:
    """The busy periods of one technician or bay; answers "free for [start, end)?" in O(log n)."""

    def __init__(self, periods: Sequence[Period]) -> None:
        ordered = sorted(periods, key=lambda p: p.starts_at)
        self._starts = [p.starts_at for p in ordered]
        self._latest_end: list[datetime] = []
        for p in ordered:
            self._latest_end.append(max(p.ends_at, self._latest_end[-1]) if self._latest_end else p.ends_at)

    def is_free(self, starts_at: datetime, ends_at: datetime) -> bool:
        before_end = bisect.bisect_left(self._starts, ends_at)  # periods that start before we end
        return before_end == 0 or self._latest_end[before_end - 1] <= starts_at


@dataclass(frozen=True, slots=True)
class Capacity:
    """What a store can offer over the search window."""

    timezone: ZoneInfo
    opening: Mapping[int, Hours]  # ISO weekday -> local opening hours; a missing day is closed
    technicians: Sequence[Technician]
    bay_ids: Sequence[int]
    technician_busy: Mapping[int, Sequence[Period]] = field(default_factory=dict)
    bay_busy: Mapping[int, Sequence[Period]] = field(default_factory=dict)
    stock: Mapping[str, PartStock] = field(default_factory=dict)


class SlotProblem(StrEnum):
    """Why a requested slot cannot be booked."""

    NO_SKILL = "technician_lacks_skill"
    OFF_SHIFT = "technician_off_shift"
    CLOSED = "store_closed"
    NO_BAY = "unknown_bay"
    PARTS = "parts_unavailable"
    TAKEN = "slot_taken"


def parts_ready_on(operation: Operation, stock: Mapping[str, PartStock]) -> date | None:
    """Return the first local day every part of the operation is available (date.min: now), or None."""
    ready = date.min
    for need in operation.parts:
        part = stock.get(need.part_no)
        day = None if part is None else part.ready_on(need.qty)
        if day is None:
            return None
        ready = max(ready, day)
    return ready


def find_slots(
    operation: Operation,
    capacity: Capacity,
    *,
    earliest: datetime,
    until: datetime,
    step: timedelta,
    count: int,
) -> list[Slot]:
    """Return the earliest `count` slots starting in [earliest, until), one per start time."""
    ready = parts_ready_on(operation, capacity.stock)
    skilled = sorted((t for t in capacity.technicians if operation.skill in t.skills), key=lambda t: t.id)
    if ready is None or not skilled or not capacity.bay_ids or count <= 0:
        return []
    technicians = {t.id: Timeline(capacity.technician_busy.get(t.id, ())) for t in skilled}
    bays = [(b, Timeline(capacity.bay_busy.get(b, ()))) for b in sorted(capacity.bay_ids)]
    found: list[Slot] = []
    for local_start in _candidate_starts(capacity, earliest=earliest, until=until, step=step, ready=ready):
        starts_at = local_start.replace(tzinfo=capacity.timezone).astimezone(UTC)
        if not earliest <= starts_at < until:
            continue
        ends_at = starts_at + operation.labour
        local_end = ends_at.astimezone(capacity.timezone).replace(tzinfo=None)
        weekday = local_start.isoweekday()
        if not capacity.opening[weekday].covers(local_start, local_end):
            continue
        for tech in skilled:
            shift = tech.shifts.get(weekday)
            if shift is None or not shift.covers(local_start, local_end):
                continue
            if not technicians[tech.id].is_free(starts_at, ends_at):
                continue
            bay_id = next((b for b, timeline in bays if timeline.is_free(starts_at, ends_at)), None)
            if bay_id is not None:
                found.append(_slot(tech.id, bay_id, starts_at, ends_at, capacity.timezone))
                break
        if len(found) == count:
            break
    return found


def check_slot(operation: Operation, capacity: Capacity, slot: Slot) -> SlotProblem | None:
    """Tell why `slot` cannot be booked with this capacity, or None if it can (same rules as find_slots)."""
    tz = capacity.timezone
    local_start = slot.starts_at.astimezone(tz).replace(tzinfo=None)
    local_end = slot.ends_at.astimezone(tz).replace(tzinfo=None)
    weekday = local_start.isoweekday()
    tech = next((t for t in capacity.technicians if t.id == slot.technician_id), None)
    hours = capacity.opening.get(weekday)
    shift = None if tech is None else tech.shifts.get(weekday)
    ready = parts_ready_on(operation, capacity.stock)
    if tech is None or operation.skill not in tech.skills:
        return SlotProblem.NO_SKILL
    if slot.bay_id not in capacity.bay_ids:
        return SlotProblem.NO_BAY
    if hours is None or not hours.covers(local_start, local_end):
        return SlotProblem.CLOSED
    if shift is None or not shift.covers(local_start, local_end):
        return SlotProblem.OFF_SHIFT
    if ready is None or ready > local_start.date():
        return SlotProblem.PARTS
    busy = (
        Timeline(capacity.technician_busy.get(slot.technician_id, ())),
        Timeline(capacity.bay_busy.get(slot.bay_id, ())),
    )
    if not all(timeline.is_free(slot.starts_at, slot.ends_at) for timeline in busy):
        return SlotProblem.TAKEN
    return None


def _candidate_starts(
    capacity: Capacity, *, earliest: datetime, until: datetime, step: timedelta, ready: date
) -> Iterator[datetime]:
    """Yield naive local start times: each open day's opening time plus whole steps, in order."""
    if step <= timedelta(0):
        raise ValueError("step must be positive")
    day = max(earliest.astimezone(capacity.timezone).date(), ready)
    last_day = until.astimezone(capacity.timezone).date()
    while day <= last_day:
        hours = capacity.opening.get(day.isoweekday())
        if hours is not None:
            moment = datetime.combine(day, hours.opens)
            closes = datetime.combine(day, hours.closes)
            while moment < closes:
                yield moment
                moment += step
        day += timedelta(days=1)


def _slot(technician_id: int, bay_id: int, starts_at: datetime, ends_at: datetime, tz: ZoneInfo) -> Slot:
    return Slot(technician_id, bay_id, starts_at.astimezone(tz), ends_at.astimezone(tz))
