"""The in-memory backtest: the evaluation's workshop rules and the alert lifecycle it reproduces."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime, time, timedelta

from predict.alerts import AlertState, Outcome
from predict.backtest import backtest, workshop_step
from predict.catalog import FailureMode
from predict.evaluation import Fault
from predict.features import Quality, VehicleDay
from tests.unit.test_predict_engine import DAYS, MODEL, SICK, STORE, day, fleet_days, healthy

BATTERY = FailureMode.BATTERY
T0 = datetime(2026, 3, 1, tzinfo=UTC)
FAULT = Fault(1, BATTERY, T0, T0 + timedelta(days=20))


def step(state: AlertState, first_days: float, now_days: float, *, repaired_days: float | None = None,
         faults: list[Fault] | None = None) -> tuple[AlertState, Outcome | None] | None:  # fmt: skip
    return workshop_step(
        state=state,
        first_observed_at=T0 + timedelta(days=first_days),
        now=T0 + timedelta(days=now_days),
        faults=[FAULT] if faults is None else faults,
        repaired_at=None if repaired_days is None else T0 + timedelta(days=repaired_days),
    )


def test_the_workshop_books_a_real_fault_a_day_after_the_alert_and_confirms_it_when_the_part_is_replaced() -> None:
    assert step(AlertState.OPEN, 5, 5.5, repaired_days=21) is None
    assert step(AlertState.OPEN, 5, 6, repaired_days=21) == (AlertState.BOOKED, None)
    assert step(AlertState.BOOKED, 5, 10, repaired_days=21) is None
    assert step(AlertState.BOOKED, 5, 21, repaired_days=21) == (AlertState.RESOLVED, Outcome.CONFIRMED)
    assert step(AlertState.OPEN, -2, 0, repaired_days=21) == (AlertState.BOOKED, None)  # 3 days early is real


def test_the_workshop_finds_nothing_on_a_car_without_the_fault_after_five_days() -> None:
    assert step(AlertState.OPEN, 0, 4.9, faults=[]) is None
    assert step(AlertState.OPEN, 0, 5, faults=[]) == (AlertState.RESOLVED, Outcome.NOT_FOUND)
    assert step(AlertState.OPEN, -10, -5) == (AlertState.RESOLVED, Outcome.NOT_FOUND)  # long before onset


def test_an_alert_about_the_new_part_is_not_the_old_fault() -> None:
    """Raised after the part was replaced: the technician finds the new part fine (2026-12-06 the workshop
    confirmed it as the old fault, and a car that always ran warmer than its cohort was alerted, 'repaired'
    and alerted again every few days)."""
    assert step(AlertState.OPEN, 25, 26, repaired_days=22) is None  # not booked: nothing to fix
    assert step(AlertState.OPEN, 25, 30, repaired_days=22) == (AlertState.RESOLVED, Outcome.NOT_FOUND)


def repaired_fleet() -> tuple[list[VehicleDay], datetime]:
    """The synthetic store with car 4's battery failing after day 30, replaced on day 45."""
    days = fleet_days(sick=True)
    fixed = datetime.combine(day(45), time(12), UTC)
    rng = random.Random(5)
    out = [d for d in days if not (d.vehicle_id == SICK and d.day >= day(45))]
    out += [VehicleDay(SICK, day(n), healthy(SICK, n, rng), Quality.OK) for n in range(45, DAYS)]
    return out, fixed


def test_a_caught_fault_is_raised_once_and_its_baseline_restarts_after_the_repair() -> None:
    days, fixed = repaired_fleet()
    fault = Fault(SICK, BATTERY, datetime.combine(day(30), time(0), UTC), fixed - timedelta(hours=1))
    run = backtest(days, [fault], {(SICK, BATTERY): fixed}, model=MODEL, store_of=STORE, cohort_of={},
                   first=day(0), last=day(DAYS - 1))  # fmt: skip
    assert [(a.vehicle_id, a.mode) for a in run.raised] == [(SICK, BATTERY)]
    assert day(33) <= run.raised[0].at.date() <= day(42)
    assert run.raised[0].days_to_failure is not None
    assert run.engine.repaired == {(SICK, BATTERY): day(46)}  # resolved at the end of day 45
    assert run.live == {}


def plateau_fleet() -> list[VehicleDay]:
    """Car 4's cranking sag rises for 8 days after day 30 and stays there: a warning-level z of about 4."""
    out = []
    for vday in fleet_days():
        n = (vday.day - day(0)).days
        if vday.vehicle_id == SICK and n > 30:
            sag = vday.features["crank_sag_v"]
            assert sag is not None
            vday = VehicleDay(SICK, vday.day, {**vday.features, "crank_sag_v": sag * math.exp(0.03 * min(n - 30, 8))},
                              Quality.OK)  # fmt: skip
        out.append(vday)
    return out


def test_an_alert_the_workshop_did_not_confirm_cools_down_instead_of_reopening() -> None:
    # the truth says the car had no fault: the alert is not found after 5 days, and the still-high index is
    # suppressed (cooldown, then flapping) instead of reopening the alert every day
    run = backtest(plateau_fleet(), [], {}, model=MODEL, store_of=STORE, cohort_of={}, first=day(0),
                   last=day(DAYS - 1))  # fmt: skip
    opened = [a.at.date() for a in run.raised]
    assert opened, "the plateau raised nothing: the test fleet no longer exercises the cooldown"
    assert all(b - a > timedelta(days=14) for a, b in itertools.pairwise(opened))
    assert run.suppressed > 0
    assert all(c.severity.value == "warning" for c in run.closed[(SICK, BATTERY)])


def test_the_workshop_can_stop_acting_so_late_alerts_stay_live() -> None:
    days, _ = repaired_fleet()
    run = backtest(days, [], {}, model=MODEL, store_of=STORE, cohort_of={}, first=day(0), last=day(44),
                   workshop_until=day(0))  # fmt: skip
    assert len(run.raised) == 1 and run.suppressed == 0
    assert [live.state for live in run.live.values()] == [AlertState.OPEN]
