"""The alert lifecycle's pure rules: transitions, suppression in data time, folding drafts into live alerts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from itertools import product

import pytest

from predict.alerts import (
    LIVE_STATES,
    AlertDraft,
    AlertRow,
    AlertState,
    ClosedAlert,
    IncompleteTransition,
    InvalidTransition,
    Outcome,
    Severity,
    SuppressReason,
    allowed_transitions,
    merge_live,
    plan_transition,
    severity_rank,
    suppression_reason,
)
from predict.catalog import FailureMode
from store.tables import ALERT_STATES, FAILURE_MODES, SEVERITIES

T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)
ALLOWED = {
    (AlertState.WATCH, AlertState.OPEN),  # into the queue: a manager's call, or its mode is no longer held
    (AlertState.WATCH, AlertState.DISMISSED),
    (AlertState.WATCH, AlertState.RESOLVED),
    (AlertState.OPEN, AlertState.ACKNOWLEDGED),
    (AlertState.OPEN, AlertState.BOOKED),
    (AlertState.OPEN, AlertState.DISMISSED),
    (AlertState.OPEN, AlertState.RESOLVED),
    (AlertState.ACKNOWLEDGED, AlertState.BOOKED),
    (AlertState.ACKNOWLEDGED, AlertState.DISMISSED),
    (AlertState.ACKNOWLEDGED, AlertState.RESOLVED),
    (AlertState.BOOKED, AlertState.ACKNOWLEDGED),  # its booking was cancelled
    (AlertState.BOOKED, AlertState.RESOLVED),
    (AlertState.BOOKED, AlertState.DISMISSED),
}
EVERY_PAIR = list(product(AlertState, AlertState))


def _details(to_state: AlertState) -> dict[str, object]:
    if to_state is AlertState.RESOLVED:
        return {"outcome": Outcome.CONFIRMED}
    if to_state is AlertState.DISMISSED:
        return {"reason": "customer sold the car"}
    return {}


@pytest.mark.parametrize(("current", "to_state"), sorted(ALLOWED))
def test_allowed_transition_sets_state_and_its_timestamp(current: AlertState, to_state: AlertState) -> None:
    values = plan_transition(current, to_state, actor="advisor-7", at=T0, **_details(to_state))  # type: ignore[arg-type]
    assert values["state"] == to_state.value
    if to_state is AlertState.OPEN:  # from the watch list: only the state changes
        assert values == {"state": "open"}
        return
    stamp = {
        AlertState.ACKNOWLEDGED: "acknowledged_at",
        AlertState.BOOKED: "booked_at",
        AlertState.RESOLVED: "closed_at",
        AlertState.DISMISSED: "closed_at",
    }[to_state]
    assert values[stamp] == T0
    assert to_state in allowed_transitions(current)


@pytest.mark.parametrize(("current", "to_state"), [p for p in EVERY_PAIR if p not in ALLOWED])
def test_refused_transition_names_the_allowed_states(current: AlertState, to_state: AlertState) -> None:
    with pytest.raises(InvalidTransition) as refused:
        plan_transition(current, to_state, actor="advisor-7", at=T0, **_details(to_state))  # type: ignore[arg-type]
    assert refused.value.allowed == {b for a, b in ALLOWED if a is current}
    assert refused.value.current is current and refused.value.requested is to_state
    assert to_state.value in str(refused.value)


def test_final_states_lead_nowhere_and_live_states_lead_to_closing() -> None:
    assert allowed_transitions(AlertState.RESOLVED) == frozenset()
    assert allowed_transitions(AlertState.DISMISSED) == frozenset()
    for state in LIVE_STATES:
        assert {AlertState.RESOLVED, AlertState.DISMISSED} <= allowed_transitions(state)
    with pytest.raises(InvalidTransition, match="none"):
        plan_transition(AlertState.DISMISSED, AlertState.OPEN, actor="a", at=T0)


def test_resolving_needs_an_outcome_and_records_who_closed() -> None:
    with pytest.raises(IncompleteTransition, match="outcome"):
        plan_transition(AlertState.BOOKED, AlertState.RESOLVED, actor="tech-2", at=T0)
    values = plan_transition(AlertState.BOOKED, AlertState.RESOLVED, actor="tech-2", at=T0, outcome=Outcome.NOT_FOUND)
    assert values == {"state": "resolved", "closed_at": T0, "closed_by": "tech-2", "outcome": "not_found"}


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_dismissing_needs_a_reason(reason: str | None) -> None:
    with pytest.raises(IncompleteTransition, match="reason"):
        plan_transition(AlertState.OPEN, AlertState.DISMISSED, actor="advisor-7", at=T0, reason=reason)


def test_dismissal_keeps_the_reason_and_an_outcome_goes_only_with_resolved() -> None:
    values = plan_transition(AlertState.ACKNOWLEDGED, AlertState.DISMISSED, actor="a", at=T0, reason=" sold ")
    assert values["dismiss_reason"] == "sold" and values["closed_by"] == "a"
    with pytest.raises(IncompleteTransition, match="outcome"):
        plan_transition(AlertState.OPEN, AlertState.DISMISSED, actor="a", at=T0, reason="x", outcome=Outcome.CONFIRMED)


def test_severity_ranks_info_warning_critical() -> None:
    ranked = sorted(Severity, key=severity_rank)
    assert ranked == [Severity.INFO, Severity.WARNING, Severity.CRITICAL]


def test_enum_values_are_the_database_checks() -> None:
    assert tuple(m.value for m in FailureMode) == FAILURE_MODES
    assert tuple(s.value for s in AlertState) == ALERT_STATES
    assert tuple(s.value for s in Severity) == SEVERITIES


# --- suppression --------------------------------------------------------------------------------


def _closed(days_before: float, severity: Severity = Severity.WARNING) -> ClosedAlert:
    return ClosedAlert(severity=severity, observed_at=T0 - timedelta(days=days_before))


def test_cooldown_suppresses_inside_the_window_only() -> None:
    assert suppression_reason(Severity.WARNING, T0, [_closed(13.9)]) is SuppressReason.COOLDOWN
    assert suppression_reason(Severity.WARNING, T0, [_closed(14.1)]) is None
    assert suppression_reason(Severity.WARNING, T0, [_closed(3)], cooldown_days=2) is None
    assert suppression_reason(Severity.WARNING, T0, []) is None


def test_critical_escalates_through_a_non_critical_cooldown_but_not_a_critical_one() -> None:
    assert suppression_reason(Severity.CRITICAL, T0, [_closed(2, Severity.WARNING)]) is None
    assert suppression_reason(Severity.CRITICAL, T0, [_closed(2, Severity.CRITICAL)]) is SuppressReason.COOLDOWN


def test_flapping_suppresses_non_critical_after_two_closures_in_sixty_days() -> None:
    twice = [_closed(50), _closed(20)]
    assert suppression_reason(Severity.INFO, T0, twice) is SuppressReason.FLAPPING
    assert suppression_reason(Severity.CRITICAL, T0, twice) is None
    assert suppression_reason(Severity.WARNING, T0, [_closed(61), _closed(20)]) is None
    assert suppression_reason(Severity.WARNING, T0, twice, flap_limit=3) is None


# --- folding a draft into the live alert --------------------------------------------------------


def _draft(**changes: object) -> AlertDraft:
    draft = AlertDraft(
        vehicle_id=1,
        store_id=1,
        mode=FailureMode.BATTERY,
        severity=Severity.WARNING,
        confidence=0.7,
        observed_at=T0,
        days_to_failure=12.0,
        evidence={"crank_min_voltage": 9.4},
        operation="BAT-TEST-REPLACE",
        parts=("12V battery",),
        model_version="battery-v1",
    )
    return dataclasses.replace(draft, **changes)  # type: ignore[arg-type]


def _live(severity: Severity, observed_at: datetime) -> AlertRow:
    return AlertRow(
        id=1,
        store_id=1,
        vehicle_id=1,
        mode=FailureMode.BATTERY,
        state=AlertState.OPEN,
        severity=severity,
        confidence=0.5,
        observed_at=observed_at,
        first_observed_at=observed_at - timedelta(days=3),
        days_to_failure=20.0,
        evidence={},
        operation="BAT-TEST-REPLACE",
        parts=("12V battery",),
        model_version="battery-v0",
        created_at=T0,
        updated_at=T0,
        acknowledged_at=None,
        booked_at=None,
        closed_at=None,
        outcome=None,
        dismiss_reason=None,
        closed_by=None,
    )


def test_newer_draft_replaces_evidence_but_never_lowers_severity() -> None:
    live = _live(Severity.CRITICAL, T0 - timedelta(days=1))
    values = merge_live(live, _draft(severity=Severity.INFO, days_to_failure=None))
    assert values["severity"] == "critical"
    assert values["observed_at"] == T0 and values["confidence"] == 0.7 and values["days_to_failure"] is None
    assert values["first_observed_at"] == live.first_observed_at
    assert merge_live(_live(Severity.INFO, T0), _draft(severity=Severity.WARNING))["severity"] == "warning"


def test_older_draft_can_raise_severity_but_keeps_newer_evidence() -> None:
    live = _live(Severity.INFO, T0 + timedelta(days=5))  # first observed T0 + 2 days
    values = merge_live(live, _draft(severity=Severity.CRITICAL))
    assert values == {"severity": "critical", "first_observed_at": T0}  # replayed out of order: earlier evidence


def test_draft_refuses_naive_time_and_confidence_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="timezone"):
        _draft(observed_at=datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="confidence"):
        _draft(confidence=1.2)
