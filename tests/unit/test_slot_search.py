"""Slot search (pure): skills, shifts, opening hours, bays, existing bookings, parts and time zones."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.bookings.slots import (
    Capacity,
    Hours,
    Operation,
    PartNeed,
    PartStock,
    Period,
    Slot,
    SlotProblem,
    Technician,
    Timeline,
    check_slot,
    find_slots,
    parts_ready_on,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 12, 7)  # a Monday
WEEKDAYS = {d: Hours(time(8, 30), time(18, 0)) for d in range(1, 7)}  # Monday to Saturday
BATTERY = Operation("BAT-TEST-REPLACE", "electrical", timedelta(minutes=30), (PartNeed("BAT-12V-60AH", 1),))
ALTERNATOR = Operation("ALT-DIAG-REPLACE", "electrical", timedelta(hours=1, minutes=30), ())
STEP = timedelta(minutes=30)


def local(day: date, hour: int, minute: int = 0, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def tech(tech_id: int, *skills: str, shifts: dict[int, Hours] | None = None) -> Technician:
    return Technician(tech_id, frozenset(skills or ("electrical",)), WEEKDAYS if shifts is None else shifts)


def capacity(**changes: object) -> Capacity:
    base = Capacity(
        timezone=SHANGHAI,
        opening=WEEKDAYS,
        technicians=[tech(1)],
        bay_ids=[10],
        stock={"BAT-12V-60AH": PartStock("BAT-12V-60AH", on_hand=3)},
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def search(cap: Capacity, operation: Operation = BATTERY, *, earliest: datetime | None = None, count: int = 3,
           days: int = 14) -> list[Slot]:  # fmt: skip
    start = earliest or local(MONDAY, 0)
    return find_slots(operation, cap, earliest=start, until=start + timedelta(days=days), step=STEP, count=count)


def starts(slots: list[Slot]) -> list[datetime]:
    return [s.starts_at for s in slots]


def test_earliest_slots_start_at_opening_in_steps() -> None:
    slots = search(capacity())
    assert starts(slots) == [local(MONDAY, 8, 30), local(MONDAY, 9), local(MONDAY, 9, 30)]
    assert slots[0] == Slot(1, 10, local(MONDAY, 8, 30), local(MONDAY, 9))
    assert slots[0].starts_at.tzinfo == SHANGHAI  # shown in the store's time


def test_earliest_rounds_up_to_the_next_step() -> None:
    assert starts(search(capacity(), earliest=local(MONDAY, 10, 10), count=1)) == [local(MONDAY, 10, 30)]


def test_job_must_end_by_closing_time_so_late_day_moves_to_tomorrow() -> None:
    slots = search(capacity(), ALTERNATOR, earliest=local(MONDAY, 16, 0), count=3)
    assert starts(slots) == [local(MONDAY, 16), local(MONDAY, 16, 30), local(MONDAY + timedelta(days=1), 8, 30)]
    assert slots[1].ends_at == local(MONDAY, 18)  # ending exactly at closing fits


def test_closed_sunday_is_skipped() -> None:
    saturday_evening = local(MONDAY + timedelta(days=5), 17, 45)
    slots = search(capacity(), earliest=saturday_evening, count=1)
    assert starts(slots) == [local(MONDAY + timedelta(days=7), 8, 30)]


def test_shift_edges_whole_labour_time_on_shift() -> None:
    afternoon = {d: Hours(time(13), time(15)) for d in range(1, 7)}
    slots = search(capacity(technicians=[tech(1, shifts=afternoon)]), ALTERNATOR, count=5)
    tuesday, wednesday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    expected = [
        local(MONDAY, 13),
        local(MONDAY, 13, 30),
        local(tuesday, 13),
        local(tuesday, 13, 30),
        local(wednesday, 13),
    ]
    assert starts(slots) == expected


def test_technician_off_on_a_day_leaves_it_empty() -> None:
    tuesday_only = {2: Hours(time(8, 30), time(18))}
    slots = search(capacity(technicians=[tech(1, shifts=tuesday_only)]), count=1)
    assert starts(slots) == [local(MONDAY + timedelta(days=1), 8, 30)]


def test_missing_skill_gives_no_slot() -> None:
    assert search(capacity(technicians=[tech(1, "cooling", "engine")])) == []


def test_skilled_technician_is_chosen_over_an_unskilled_one() -> None:
    slots = search(capacity(technicians=[tech(1, "cooling"), tech(2, "electrical")]), count=1)
    assert slots[0].technician_id == 2


def test_no_bays_or_no_count_gives_nothing() -> None:
    assert search(capacity(bay_ids=[])) == []
    assert search(capacity(), count=0) == []


def test_busy_technician_moves_to_the_next_technician_then_later() -> None:
    busy = {1: [Period(local(MONDAY, 8, 30), local(MONDAY, 10))]}
    alone = search(capacity(technician_busy=busy), count=1)
    assert starts(alone) == [local(MONDAY, 10)]  # back to back: the old job ends when the new starts
    two = search(capacity(technicians=[tech(1), tech(2)], technician_busy=busy), count=1)
    assert two[0] == Slot(2, 10, local(MONDAY, 8, 30), local(MONDAY, 9))


def test_busy_bay_moves_to_another_bay_or_later() -> None:
    busy = {10: [Period(local(MONDAY, 8), local(MONDAY, 9, 15))]}
    assert starts(search(capacity(bay_busy=busy), count=1)) == [local(MONDAY, 9, 30)]
    assert search(capacity(bay_ids=[11, 10], bay_busy=busy), count=1)[0].bay_id == 11


def test_parts_arriving_later_push_the_first_slot_to_the_arrival_day() -> None:
    thursday = MONDAY + timedelta(days=3)
    stock = {"BAT-12V-60AH": PartStock("BAT-12V-60AH", on_hand=1, reserved=1, incoming_qty=2, incoming_on=thursday)}
    slots = search(capacity(stock=stock), count=1)
    assert starts(slots) == [local(thursday, 8, 30)]


def test_parts_never_available_give_no_slot() -> None:
    short = {"BAT-12V-60AH": PartStock("BAT-12V-60AH", on_hand=2, reserved=2)}
    assert search(capacity(stock=short)) == []
    assert search(capacity(stock={})) == []  # the store does not stock the part at all


def test_parts_ready_on_takes_the_latest_part() -> None:
    op = Operation("X", "engine", timedelta(hours=1), (PartNeed("A", 1), PartNeed("B", 4)))
    stock = {
        "A": PartStock("A", on_hand=0, incoming_qty=1, incoming_on=date(2026, 12, 9)),
        "B": PartStock("B", on_hand=4),
    }
    assert parts_ready_on(op, stock) == date(2026, 12, 9)
    assert parts_ready_on(op, {**stock, "B": PartStock("B", on_hand=3)}) is None
    assert parts_ready_on(replace(op, parts=()), {}) == date.min


def test_store_time_zone_decides_the_local_day_and_hours() -> None:
    # 00:30 UTC on Monday is 08:30 in Shanghai: the store's first slot; in a UTC store it is 08:30 UTC.
    utc_monday = datetime.combine(MONDAY, time(0), tzinfo=UTC)
    shanghai = search(capacity(), earliest=utc_monday, count=1)
    assert shanghai[0].starts_at == datetime.combine(MONDAY, time(0, 30), tzinfo=UTC)
    in_utc = search(capacity(timezone=ZoneInfo("UTC")), earliest=utc_monday, count=1)
    assert in_utc[0].starts_at == datetime.combine(MONDAY, time(8, 30), tzinfo=UTC)


def test_utc_evening_is_already_the_next_local_day_in_shanghai() -> None:
    sunday_utc_evening = datetime.combine(MONDAY - timedelta(days=1), time(23), tzinfo=UTC)  # Monday 07:00 local
    assert starts(search(capacity(), earliest=sunday_utc_evening, count=1)) == [local(MONDAY, 8, 30)]


def test_horizon_bounds_the_search() -> None:
    assert search(capacity(), earliest=local(MONDAY, 19), days=0) == []
    slots = search(capacity(), earliest=local(MONDAY, 17), count=5, days=1)
    tuesday = MONDAY + timedelta(days=1)
    expected = [
        local(MONDAY, 17),
        local(MONDAY, 17, 30),
        local(tuesday, 8, 30),
        local(tuesday, 9),
        local(tuesday, 9, 30),
    ]
    assert starts(slots) == expected


def test_search_is_deterministic_for_twenty_technicians() -> None:
    techs = [tech(i, "electrical", "engine") for i in range(20, 0, -1)]
    busy = {i: [Period(local(MONDAY + timedelta(days=d), 8, 30), local(MONDAY + timedelta(days=d), 17))
                for d in range(14)] for i in range(1, 20)}  # fmt: skip
    cap = capacity(technicians=techs, bay_ids=[3, 2, 1], technician_busy=busy)
    first = search(cap, count=10)
    assert first == search(cap, count=10)
    assert {s.technician_id for s in first[:2]} == {20}
    assert first[0].bay_id == 1


def test_step_must_be_positive() -> None:
    with pytest.raises(ValueError, match="step"):
        find_slots(BATTERY, capacity(), earliest=local(MONDAY, 8), until=local(MONDAY, 20), step=timedelta(0), count=1)


def test_timeline_overlaps_are_half_open() -> None:
    line = Timeline([Period(local(MONDAY, 10), local(MONDAY, 11)), Period(local(MONDAY, 9), local(MONDAY, 12))])
    assert line.is_free(local(MONDAY, 12), local(MONDAY, 13))
    assert line.is_free(local(MONDAY, 8), local(MONDAY, 9))
    assert not line.is_free(local(MONDAY, 11, 30), local(MONDAY, 12, 30))
    assert not Timeline([Period(local(MONDAY, 9), local(MONDAY, 10))]).is_free(local(MONDAY, 8), local(MONDAY, 11))


@pytest.mark.parametrize(
    ("slot", "problem"),
    [
        (Slot(1, 10, local(MONDAY, 9), local(MONDAY, 9, 30)), None),
        (Slot(2, 10, local(MONDAY, 9), local(MONDAY, 9, 30)), SlotProblem.NO_SKILL),
        (Slot(1, 99, local(MONDAY, 9), local(MONDAY, 9, 30)), SlotProblem.NO_BAY),
        (Slot(1, 10, local(MONDAY, 17, 45), local(MONDAY, 18, 15)), SlotProblem.CLOSED),
        (Slot(1, 10, local(MONDAY + timedelta(days=6), 9), local(MONDAY + timedelta(days=6), 9, 30)),
         SlotProblem.CLOSED),
        (Slot(1, 10, local(MONDAY, 14), local(MONDAY, 14, 30)), SlotProblem.OFF_SHIFT),
        (Slot(1, 10, local(MONDAY, 10, 15), local(MONDAY, 10, 45)), SlotProblem.TAKEN),
    ],
)  # fmt: skip
def test_check_slot_names_the_problem(slot: Slot, problem: SlotProblem | None) -> None:
    morning = {d: Hours(time(8, 30), time(12)) for d in range(1, 7)}
    cap = capacity(
        technicians=[tech(1, shifts=morning), tech(2, "cooling")],
        technician_busy={1: [Period(local(MONDAY, 10), local(MONDAY, 10, 30))]},
    )
    assert check_slot(BATTERY, cap, slot) == problem


def test_check_slot_refuses_a_day_before_the_parts_arrive() -> None:
    stock = {"BAT-12V-60AH": PartStock("BAT-12V-60AH", on_hand=0, incoming_qty=1, incoming_on=MONDAY + timedelta(1))}
    monday = Slot(1, 10, local(MONDAY, 9), local(MONDAY, 9, 30))
    assert check_slot(BATTERY, capacity(stock=stock), monday) is SlotProblem.PARTS
    tuesday = Slot(1, 10, local(MONDAY + timedelta(1), 9), local(MONDAY + timedelta(1), 9, 30))
    assert check_slot(BATTERY, capacity(stock=stock), tuesday) is None
