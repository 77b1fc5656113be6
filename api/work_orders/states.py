"""The work order's state machine (接车 → 诊断 → 维修 → 质检 → 结算 → 关闭), as pure rules without I/O.

check_in → diagnosis → repair → quality_check → settlement → closed; quality_check may send the car
back to repair (rework); any state before settlement may be cancelled with a reason; closed and
cancelled are final. Moving on from diagnosis needs the technician's findings; closing needs the
labour hours and, for a work order that came from an alert, the alert's outcome (the label prediction
learns from).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class WorkOrderState(StrEnum):
    CHECK_IN = "check_in"  # 接车
    DIAGNOSIS = "diagnosis"  # 诊断
    REPAIR = "repair"  # 维修
    QUALITY_CHECK = "quality_check"  # 质检
    SETTLEMENT = "settlement"  # 结算
    CLOSED = "closed"  # 关闭
    CANCELLED = "cancelled"


class AlertOutcome(StrEnum):
    CONFIRMED = "confirmed"  # the predicted fault was found
    NOT_FOUND = "not_found"  # the car was inspected and the fault was not there


S = WorkOrderState
_NEXT: dict[WorkOrderState, tuple[WorkOrderState, ...]] = {
    S.CHECK_IN: (S.DIAGNOSIS, S.CANCELLED),
    S.DIAGNOSIS: (S.REPAIR, S.CANCELLED),
    S.REPAIR: (S.QUALITY_CHECK, S.CANCELLED),
    S.QUALITY_CHECK: (S.SETTLEMENT, S.REPAIR, S.CANCELLED),
    S.SETTLEMENT: (S.CLOSED,),
    S.CLOSED: (),
    S.CANCELLED: (),
}
FINAL_STATES = frozenset({S.CLOSED, S.CANCELLED})
# The moves a technician may make; every other move is for the service desk (manager, advisor, admin).
TECHNICIAN_MOVES = frozenset({(S.CHECK_IN, S.DIAGNOSIS), (S.DIAGNOSIS, S.REPAIR), (S.REPAIR, S.QUALITY_CHECK)})


class WorkOrderRuleError(Exception):
    """Base of the work order's rule violations."""


class InvalidTransition(WorkOrderRuleError):  # noqa: N818 (named for the domain)
    """The current state does not lead to the requested one; `allowed` lists the states it does lead to."""

    def __init__(self, current: WorkOrderState, requested: WorkOrderState) -> None:
        self.current = current
        self.requested = requested
        self.allowed = allowed_next(current)
        names = ", ".join(self.allowed) or "none (final state)"
        super().__init__(f"work order is {current}; cannot go to {requested}; allowed: {names}")


class IncompleteTransition(WorkOrderRuleError):  # noqa: N818 (named for the domain)
    """The move is allowed but the work order lacks what it needs; `missing` names the fields."""

    def __init__(self, current: WorkOrderState, requested: WorkOrderState, missing: list[str]) -> None:
        self.current = current
        self.requested = requested
        self.missing = missing
        super().__init__(f"moving from {current} to {requested} needs: {', '.join(missing)}")


@dataclass(frozen=True, slots=True)
class WorkOrderFacts:
    """What the rules look at: the work order's state and the facts recorded on it."""

    state: WorkOrderState
    findings: str = ""
    labour_hours: float | None = None
    from_alert: bool = False
    alert_outcome: AlertOutcome | None = None


@dataclass(frozen=True, slots=True)
class PlannedTransition:
    """A move the rules accept: from, to, and the note (the reason, for a cancellation)."""

    from_state: WorkOrderState
    to_state: WorkOrderState
    note: str | None

    @property
    def closes(self) -> bool:
        return self.to_state is S.CLOSED

    @property
    def cancels(self) -> bool:
        return self.to_state is S.CANCELLED


def allowed_next(state: WorkOrderState) -> tuple[WorkOrderState, ...]:
    """Return the states a work order in `state` may move to, forward first (empty when final)."""
    return _NEXT[state]


def is_final(state: WorkOrderState) -> bool:
    """Tell whether nothing may change any more (closed or cancelled)."""
    return state in FINAL_STATES


def technician_may(current: WorkOrderState, to_state: WorkOrderState) -> bool:
    """Tell whether a technician may make this move (into diagnosis, repair or quality check)."""
    return (current, to_state) in TECHNICIAN_MOVES


def missing_for(facts: WorkOrderFacts, to_state: WorkOrderState, note: str | None) -> list[str]:
    """Return what the work order (or the request's note) lacks for this move; empty if nothing."""
    missing: list[str] = []
    if to_state is S.CANCELLED:
        if not (note or "").strip():
            missing.append("note (the reason for cancelling)")
        return missing
    if facts.state is S.DIAGNOSIS and not facts.findings.strip():
        missing.append("findings")
    if to_state is S.CLOSED:
        if facts.labour_hours is None:
            missing.append("labour_hours")
        if facts.from_alert and facts.alert_outcome is None:
            missing.append("alert_outcome")
    return missing


def plan_transition(facts: WorkOrderFacts, to_state: WorkOrderState, *, note: str | None = None) -> PlannedTransition:
    """Check a move against the state machine and its rules; return it planned.

    Raises InvalidTransition when the current state does not lead to `to_state` (with the allowed
    ones), IncompleteTransition when the move is allowed but findings, labour hours, the alert's
    outcome or a cancellation's reason are missing.
    """
    if to_state not in allowed_next(facts.state):
        raise InvalidTransition(facts.state, to_state)
    missing = missing_for(facts, to_state, note)
    if missing:
        raise IncompleteTransition(facts.state, to_state, missing)
    cleaned = note.strip() if note and note.strip() else None
    return PlannedTransition(facts.state, to_state, cleaned)
