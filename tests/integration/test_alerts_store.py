"""Alerts on real TimescaleDB: one live alert per vehicle and mode, suppression in data time,
transitions with history, labels for training, and concurrent raisers."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, insert, select, text
from sqlalchemy.exc import IntegrityError

from predict.alerts import (
    AlertDraft,
    AlertNotFound,
    AlertState,
    IncompleteTransition,
    InvalidTransition,
    LabelOutcome,
    Outcome,
    RaiseOutcome,
    RaiseResult,
    Severity,
    SuppressReason,
    get_alert,
    history,
    labels,
    open_alerts,
    raise_alert,
    transition,
)
from predict.catalog import CATALOG, FailureMode
from store import fleet as registry
from store.db import make_engine
from store.tables import alert_transitions, alerts

# Data time well in the past: a wall-clock cooldown would never suppress anything here.
T0 = datetime(2025, 1, 6, 7, 30, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class Fleet:
    engine: Engine
    store_id: int
    vehicle_ids: tuple[int, int]


@pytest.fixture
def cars(db_url: str) -> Iterator[Fleet]:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        store_id = registry.ensure_store(conn, group_name="G", store_code="SH-01", store_name="Shanghai 1")
        ids = tuple(
            registry.add_vehicle(conn, store_id=store_id, vin=vin, make="VW", model="Lavida", year=2022)
            for vin in ("LSVAU2180N2183294", "LSVAU2180N2183295")
        )
    yield Fleet(engine, store_id, (ids[0], ids[1]))
    engine.dispose()


def _draft(fleet: Fleet, **changes: Any) -> AlertDraft:
    operation = CATALOG[FailureMode.BATTERY].operation
    draft = AlertDraft(
        vehicle_id=fleet.vehicle_ids[0],
        store_id=fleet.store_id,
        mode=FailureMode.BATTERY,
        severity=Severity.WARNING,
        confidence=0.6,
        observed_at=T0,
        days_to_failure=21.0,
        evidence={"crank_min_voltage": 9.6, "days": 5},
        operation=operation.op_code,
        parts=operation.parts,
        model_version="battery-v1",
    )
    return dataclasses.replace(draft, **changes)


def _raise(fleet: Fleet, **changes: Any) -> RaiseResult:
    with fleet.engine.begin() as conn:
        return raise_alert(conn, _draft(fleet, **changes))


def _move(fleet: Fleet, alert_id: int | None, to_state: AlertState, **kwargs: Any) -> None:
    assert alert_id is not None
    kwargs.setdefault("actor", "advisor-li")
    kwargs.setdefault("at", T0 + DAY)
    with fleet.engine.begin() as conn:
        transition(conn, alert_id, to_state, **kwargs)


def _live_count(fleet: Fleet) -> int:
    with fleet.engine.connect() as conn:
        return int(conn.scalar(text("SELECT count(*) FROM alerts WHERE state IN ('open', 'acknowledged', 'booked')")))


def _raw_row(fleet: Fleet, state: str) -> dict[str, Any]:
    return {
        "store_id": fleet.store_id,
        "vehicle_id": fleet.vehicle_ids[0],
        "mode": "battery",
        "state": state,
        "severity": "info",
        "confidence": 0.5,
        "observed_at": T0,
        "first_observed_at": T0,
        "evidence": {},
        "operation": "BAT-TEST-REPLACE",
        "parts": [],
        "model_version": "raw",
    }


def test_database_holds_one_live_alert_per_vehicle_and_mode(cars: Fleet) -> None:
    opened = _raise(cars)
    assert opened.outcome is RaiseOutcome.OPENED
    with pytest.raises(IntegrityError, match="uq_alerts_live_vehicle_mode"), cars.engine.begin() as conn:
        conn.execute(insert(alerts).values(**_raw_row(cars, "acknowledged")))
    assert _raise(cars, mode=FailureMode.MISFIRE).outcome is RaiseOutcome.OPENED  # another mode
    assert _raise(cars, vehicle_id=cars.vehicle_ids[1]).outcome is RaiseOutcome.OPENED  # another car
    _move(cars, opened.alert_id, AlertState.DISMISSED, reason="customer declined")
    with cars.engine.begin() as conn:  # once closed, a new live alert is allowed
        conn.execute(insert(alerts).values(**_raw_row(cars, "open")))
    with pytest.raises(IntegrityError, match="ck_alerts_confidence"), cars.engine.begin() as conn:
        conn.execute(insert(alerts).values(**{**_raw_row(cars, "dismissed"), "confidence": 1.5}))


def test_raising_again_updates_the_live_alert_keeps_first_observed_and_never_lowers_severity(cars: Fleet) -> None:
    opened = _raise(cars, severity=Severity.CRITICAL, days_to_failure=10.0)
    later = _raise(
        cars, severity=Severity.INFO, confidence=0.9, observed_at=T0 + 3 * DAY, days_to_failure=None, evidence={"v": 2}
    )
    assert later == RaiseResult(RaiseOutcome.UPDATED, opened.alert_id)
    assert opened.alert_id is not None
    with cars.engine.connect() as conn:
        alert = get_alert(conn, opened.alert_id)
    assert alert.severity is Severity.CRITICAL
    assert (alert.first_observed_at, alert.observed_at) == (T0, T0 + 3 * DAY)
    assert (alert.confidence, alert.days_to_failure, alert.evidence) == (0.9, None, {"v": 2})
    assert alert.parts == ("12V battery",) and alert.state is AlertState.OPEN
    assert _live_count(cars) == 1


def test_info_alert_is_raised_to_warning_by_a_later_draft(cars: Fleet) -> None:
    opened = _raise(cars, severity=Severity.INFO)
    _raise(cars, severity=Severity.WARNING, observed_at=T0 + DAY)
    with cars.engine.connect() as conn:
        assert conn.scalar(select(alerts.c.severity).where(alerts.c.id == opened.alert_id)) == "warning"


def test_cooldown_after_dismissal_counts_in_data_time(cars: Fleet) -> None:
    first = _raise(cars)
    _move(cars, first.alert_id, AlertState.DISMISSED, reason="customer declined", at=datetime.now(UTC))
    suppressed = _raise(cars, observed_at=T0 + 13 * DAY)
    assert suppressed == RaiseResult(RaiseOutcome.SUPPRESSED, None, SuppressReason.COOLDOWN)
    assert _live_count(cars) == 0
    assert _raise(cars, observed_at=T0 + 15 * DAY).outcome is RaiseOutcome.OPENED


def test_not_found_cools_down_and_a_confirmed_repair_does_not(cars: Fleet) -> None:
    first = _raise(cars)
    _move(cars, first.alert_id, AlertState.RESOLVED, outcome=Outcome.NOT_FOUND)
    assert _raise(cars, observed_at=T0 + 2 * DAY).outcome is RaiseOutcome.SUPPRESSED
    other = _raise(cars, mode=FailureMode.MISFIRE)
    _move(cars, other.alert_id, AlertState.RESOLVED, outcome=Outcome.CONFIRMED)
    assert _raise(cars, mode=FailureMode.MISFIRE, observed_at=T0 + 2 * DAY).outcome is RaiseOutcome.OPENED


def test_critical_escalates_through_a_non_critical_cooldown(cars: Fleet) -> None:
    first = _raise(cars, severity=Severity.WARNING)
    _move(cars, first.alert_id, AlertState.DISMISSED, reason="will come in next month")
    escalated = _raise(cars, severity=Severity.CRITICAL, observed_at=T0 + 2 * DAY)
    assert escalated.outcome is RaiseOutcome.OPENED
    _move(cars, escalated.alert_id, AlertState.DISMISSED, reason="customer abroad")
    again = _raise(cars, severity=Severity.CRITICAL, observed_at=T0 + 4 * DAY)
    assert again.outcome is RaiseOutcome.SUPPRESSED and again.reason is SuppressReason.COOLDOWN


def test_flapping_suppresses_all_but_critical_after_two_false_alarms(cars: Fleet) -> None:
    first = _raise(cars)
    _move(cars, first.alert_id, AlertState.DISMISSED, reason="no fault seen")
    second = _raise(cars, observed_at=T0 + 20 * DAY)  # past the cooldown
    assert second.outcome is RaiseOutcome.OPENED
    _move(cars, second.alert_id, AlertState.RESOLVED, outcome=Outcome.NOT_FOUND, at=T0 + 21 * DAY)
    third = _raise(cars, observed_at=T0 + 40 * DAY)
    assert third == RaiseResult(RaiseOutcome.SUPPRESSED, None, SuppressReason.FLAPPING)
    assert _raise(cars, severity=Severity.CRITICAL, observed_at=T0 + 40 * DAY).outcome is RaiseOutcome.OPENED


def test_flapping_window_slides_in_data_time(cars: Fleet) -> None:
    for day in (0, 20):
        result = _raise(cars, observed_at=T0 + day * DAY)
        _move(cars, result.alert_id, AlertState.DISMISSED, reason="no fault seen")
    assert _raise(cars, observed_at=T0 + 59 * DAY).reason is SuppressReason.FLAPPING
    assert _raise(cars, observed_at=T0 + 61 * DAY).outcome is RaiseOutcome.OPENED  # the first left the window


def test_transitions_write_history_with_actor_and_stamp_the_alert(cars: Fleet) -> None:
    alert_id = _raise(cars).alert_id
    assert alert_id is not None
    _move(cars, alert_id, AlertState.ACKNOWLEDGED, actor="advisor-li", at=T0 + DAY)
    _move(cars, alert_id, AlertState.BOOKED, actor="advisor-li", at=T0 + 2 * DAY, reason="booked for Saturday")
    with cars.engine.begin() as conn:
        done = transition(
            conn, alert_id, AlertState.RESOLVED, actor="tech-wang", at=T0 + 5 * DAY, outcome=Outcome.CONFIRMED
        )
        steps = history(conn, alert_id)
    assert (done.state, done.outcome, done.closed_by) == (AlertState.RESOLVED, Outcome.CONFIRMED, "tech-wang")
    assert (done.acknowledged_at, done.booked_at, done.closed_at) == (T0 + DAY, T0 + 2 * DAY, T0 + 5 * DAY)
    assert [(s.from_state, s.to_state, s.actor, s.note) for s in steps] == [
        (None, AlertState.OPEN, "predict:battery-v1", None),
        (AlertState.OPEN, AlertState.ACKNOWLEDGED, "advisor-li", None),
        (AlertState.ACKNOWLEDGED, AlertState.BOOKED, "advisor-li", "booked for Saturday"),
        (AlertState.BOOKED, AlertState.RESOLVED, "tech-wang", None),
    ]


def test_refused_transitions_raise_with_the_allowed_states_and_change_nothing(cars: Fleet) -> None:
    alert_id = _raise(cars).alert_id
    assert alert_id is not None
    _move(cars, alert_id, AlertState.BOOKED)
    with pytest.raises(InvalidTransition) as refused, cars.engine.begin() as conn:
        transition(conn, alert_id, AlertState.BOOKED, actor="advisor-li", at=T0)
    # booked -> acknowledged is the way back when the booking is cancelled
    assert refused.value.allowed == {AlertState.RESOLVED, AlertState.DISMISSED, AlertState.ACKNOWLEDGED}
    with pytest.raises(IncompleteTransition), cars.engine.begin() as conn:
        transition(conn, alert_id, AlertState.DISMISSED, actor="advisor-li", at=T0, reason="")
    with pytest.raises(AlertNotFound), cars.engine.begin() as conn:
        transition(conn, alert_id + 1000, AlertState.BOOKED, actor="advisor-li", at=T0)
    _move(cars, alert_id, AlertState.DISMISSED, reason="customer sold the car")
    with pytest.raises(InvalidTransition, match="none") as final, cars.engine.begin() as conn:
        transition(conn, alert_id, AlertState.RESOLVED, actor="tech-wang", at=T0, outcome=Outcome.CONFIRMED)
    assert final.value.allowed == frozenset()
    with cars.engine.connect() as conn:
        assert get_alert(conn, alert_id).state is AlertState.DISMISSED
        assert conn.scalar(select(text("count(*)")).select_from(alert_transitions)) == 3


def test_labels_return_what_the_store_found(cars: Fleet) -> None:
    confirmed = _raise(cars, observed_at=T0 + DAY)
    _move(cars, confirmed.alert_id, AlertState.RESOLVED, outcome=Outcome.CONFIRMED)
    not_found = _raise(cars, mode=FailureMode.MISFIRE, observed_at=T0 + 2 * DAY)
    _move(cars, not_found.alert_id, AlertState.RESOLVED, outcome=Outcome.NOT_FOUND)
    dismissed = _raise(cars, mode=FailureMode.CATALYST, observed_at=T0 + 3 * DAY)
    _move(cars, dismissed.alert_id, AlertState.DISMISSED, reason="customer sold the car")
    _raise(cars, mode=FailureMode.THERMOSTAT)  # still live: not a label yet
    with cars.engine.connect() as conn:
        every = labels(conn)
        recent = labels(conn, since=T0 + 2 * DAY)
    assert [(lb.mode, lb.outcome, lb.reason) for lb in every] == [
        (FailureMode.BATTERY, LabelOutcome.CONFIRMED, None),
        (FailureMode.MISFIRE, LabelOutcome.NOT_FOUND, None),
        (FailureMode.CATALYST, LabelOutcome.DISMISSED, "customer sold the car"),
    ]
    assert every[0].observed_at == T0 + DAY and every[0].vehicle_id == cars.vehicle_ids[0]
    assert [lb.alert_id for lb in recent] == [not_found.alert_id, dismissed.alert_id]


def test_open_alerts_come_most_urgent_first(cars: Fleet) -> None:
    def raise_(mode: FailureMode, severity: Severity, days: float | None, confidence: float) -> int | None:
        return _raise(cars, mode=mode, severity=severity, days_to_failure=days, confidence=confidence).alert_id

    warning_unknown = raise_(FailureMode.BATTERY, Severity.WARNING, None, 0.9)
    warning_soon = raise_(FailureMode.MISFIRE, Severity.WARNING, 5.0, 0.5)
    critical = raise_(FailureMode.OVERHEATING, Severity.CRITICAL, 30.0, 0.4)
    info = raise_(FailureMode.CATALYST, Severity.INFO, 1.0, 0.99)
    warning_soon_surer = raise_(FailureMode.FUEL_LEAN, Severity.WARNING, 5.0, 0.8)
    closed = raise_(FailureMode.THERMOSTAT, Severity.CRITICAL, 1.0, 1.0)
    _move(cars, closed, AlertState.DISMISSED, reason="duplicate")
    _move(cars, warning_soon, AlertState.ACKNOWLEDGED)
    with cars.engine.connect() as conn:
        queue = [a.id for a in open_alerts(conn, store_id=cars.store_id)]
        only_open = [a.id for a in open_alerts(conn, store_id=cars.store_id, states=frozenset({AlertState.OPEN}))]
        other_store = open_alerts(conn, store_id=cars.store_id + 1)
    assert queue == [critical, warning_soon_surer, warning_soon, warning_unknown, info]
    assert only_open == [critical, warning_soon_surer, warning_unknown, info]
    assert other_store == []


def _wait_until_waiting_on_a_lock(conn: Connection, pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = conn.scalar(text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :p"), {"p": pid})
        conn.rollback()
        if state == "Lock":
            return
        time.sleep(0.01)
    raise AssertionError("the second raiser never waited on the first one's insert")


def test_racing_raisers_end_with_one_live_alert(cars: Fleet) -> None:
    results: dict[str, RaiseResult] = {}
    errors: list[BaseException] = []
    with cars.engine.connect() as first, cars.engine.connect() as second, cars.engine.connect() as watcher:
        second_pid = int(second.scalar(text("SELECT pg_backend_pid()")))

        def race() -> None:
            try:
                results["second"] = raise_alert(second, _draft(cars, severity=Severity.CRITICAL))
                second.commit()
            except BaseException as error:  # noqa: BLE001 - handed to the test thread
                errors.append(error)

        results["first"] = raise_alert(first, _draft(cars))  # inserted, not committed yet
        racer = threading.Thread(target=race)
        racer.start()
        _wait_until_waiting_on_a_lock(watcher, second_pid)
        first.commit()
        racer.join(timeout=30)
    assert not errors, errors
    assert results["first"].outcome is RaiseOutcome.OPENED
    assert results["second"] == RaiseResult(RaiseOutcome.UPDATED, results["first"].alert_id)
    assert _live_count(cars) == 1
    with cars.engine.connect() as conn:
        assert conn.scalar(select(alerts.c.severity)) == "critical"
