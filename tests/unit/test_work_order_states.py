"""The work order state machine: every pair of states, allowed or refused, and the rules on the way."""

from __future__ import annotations

import itertools

import pytest

from api.work_orders.states import (
    AlertOutcome,
    IncompleteTransition,
    InvalidTransition,
    WorkOrderFacts,
    WorkOrderState,
    allowed_next,
    is_final,
    plan_transition,
    technician_may,
)

S = WorkOrderState
# The process a 4S store follows, written out independently of the module's table.
ALLOWED = {
    (S.CHECK_IN, S.DIAGNOSIS),
    (S.CHECK_IN, S.CANCELLED),
    (S.DIAGNOSIS, S.REPAIR),
    (S.DIAGNOSIS, S.CANCELLED),
    (S.REPAIR, S.QUALITY_CHECK),
    (S.REPAIR, S.CANCELLED),
    (S.QUALITY_CHECK, S.SETTLEMENT),
    (S.QUALITY_CHECK, S.REPAIR),
    (S.QUALITY_CHECK, S.CANCELLED),
    (S.SETTLEMENT, S.CLOSED),
}
MATRIX = list(itertools.product(S, S))


def complete(state: WorkOrderState) -> WorkOrderFacts:
    """Facts that satisfy every rule, so only the state machine decides."""
    return WorkOrderFacts(
        state=state, findings="battery 9.8 V at rest", labour_hours=0.5, from_alert=True,
        alert_outcome=AlertOutcome.CONFIRMED,
    )  # fmt: skip


@pytest.mark.parametrize(("current", "to"), MATRIX, ids=[f"{a}->{b}" for a, b in MATRIX])
def test_every_pair_of_states(current: WorkOrderState, to: WorkOrderState) -> None:
    if (current, to) in ALLOWED:
        planned = plan_transition(complete(current), to, note="customer asked")
        assert (planned.from_state, planned.to_state) == (current, to)
        assert to in allowed_next(current)
    else:
        with pytest.raises(InvalidTransition) as refused:
            plan_transition(complete(current), to, note="customer asked")
        assert refused.value.current is current
        assert set(refused.value.allowed) == {b for a, b in ALLOWED if a is current}
        assert to not in allowed_next(current)


def test_only_closed_and_cancelled_are_final() -> None:
    assert {s for s in S if is_final(s)} == {S.CLOSED, S.CANCELLED}
    assert allowed_next(S.CLOSED) == () and allowed_next(S.CANCELLED) == ()
    with pytest.raises(InvalidTransition, match="none \\(final state\\)"):
        plan_transition(complete(S.CLOSED), S.REPAIR)


def test_leaving_diagnosis_needs_findings() -> None:
    with pytest.raises(IncompleteTransition) as refused:
        plan_transition(WorkOrderFacts(state=S.DIAGNOSIS, findings="  "), S.REPAIR)
    assert refused.value.missing == ["findings"]
    planned = plan_transition(WorkOrderFacts(state=S.DIAGNOSIS, findings="coil 2 open circuit"), S.REPAIR)
    assert planned.to_state is S.REPAIR


def test_closing_needs_labour_hours() -> None:
    facts = WorkOrderFacts(state=S.SETTLEMENT, findings="x")
    with pytest.raises(IncompleteTransition) as refused:
        plan_transition(facts, S.CLOSED)
    assert refused.value.missing == ["labour_hours"]
    assert plan_transition(WorkOrderFacts(state=S.SETTLEMENT, labour_hours=1.0), S.CLOSED).closes


def test_closing_an_alert_work_order_needs_the_outcome() -> None:
    facts = WorkOrderFacts(state=S.SETTLEMENT, labour_hours=1.0, from_alert=True)
    with pytest.raises(IncompleteTransition) as refused:
        plan_transition(facts, S.CLOSED)
    assert refused.value.missing == ["alert_outcome"]
    both = WorkOrderFacts(state=S.SETTLEMENT, from_alert=True)
    with pytest.raises(IncompleteTransition) as refused_both:
        plan_transition(both, S.CLOSED)
    assert refused_both.value.missing == ["labour_hours", "alert_outcome"]
    done = WorkOrderFacts(state=S.SETTLEMENT, labour_hours=1.0, from_alert=True, alert_outcome=AlertOutcome.NOT_FOUND)
    assert plan_transition(done, S.CLOSED).closes


@pytest.mark.parametrize("state", [S.CHECK_IN, S.DIAGNOSIS, S.REPAIR, S.QUALITY_CHECK])
def test_cancelling_needs_a_reason_not_findings(state: WorkOrderState) -> None:
    facts = WorkOrderFacts(state=state)
    with pytest.raises(IncompleteTransition) as refused:
        plan_transition(facts, S.CANCELLED, note=" ")
    assert refused.value.missing == ["note (the reason for cancelling)"]
    planned = plan_transition(facts, S.CANCELLED, note="  customer took the car away ")
    assert planned.cancels and planned.note == "customer took the car away"


def test_rework_goes_back_from_quality_check_to_repair() -> None:
    planned = plan_transition(WorkOrderFacts(state=S.QUALITY_CHECK), S.REPAIR, note="noise remains")
    assert (planned.from_state, planned.to_state, planned.note) == (S.QUALITY_CHECK, S.REPAIR, "noise remains")


@pytest.mark.parametrize(("current", "to"), sorted(ALLOWED))
def test_technicians_move_only_into_diagnosis_repair_and_quality_check(
    current: WorkOrderState, to: WorkOrderState
) -> None:
    workshop_moves = {(S.CHECK_IN, S.DIAGNOSIS), (S.DIAGNOSIS, S.REPAIR), (S.REPAIR, S.QUALITY_CHECK)}
    assert technician_may(current, to) is ((current, to) in workshop_moves)
