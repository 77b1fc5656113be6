"""Move a work order through its states, with the effects of closing and cancelling.

Closing (settlement → closed), in the request's one transaction: the alert the work order came from
is resolved with the recorded outcome (predict/alerts.py, the label prediction trains on), the
booking is completed, reservations not consumed are released, and the customer's survey is sent.
Cancelling also completes the booking (an in-service booking is not cancelled: the visit happened)
and releases its reservations; the alert goes back to acknowledged, as when a booking is cancelled,
so the store still sees it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, update

from api.bookings.lifecycle import BookingState
from api.bookings.reservations import release_parts
from api.errors import Conflict, Forbidden, Invalid
from api.surveys.service import send_survey
from api.tenancy import Principal, Role, StoreScope
from api.work_orders.schemas import WorkOrderMoved
from api.work_orders.service import get_detail, record_transition
from api.work_orders.states import (
    AlertOutcome,
    IncompleteTransition,
    InvalidTransition,
    PlannedTransition,
    WorkOrderFacts,
    WorkOrderState,
    allowed_next,
    plan_transition,
    technician_may,
)
from predict import alerts as lifecycle
from predict.alerts import AlertState, Outcome
from store.service_tables import bookings, work_orders


class InvalidTransitionError(Conflict):
    code = "invalid_transition"


class IncompleteTransitionError(Invalid):
    code = "incomplete_transition"


def facts_of(row: Any) -> WorkOrderFacts:
    """Return what the state machine's rules need from a work order row."""
    return WorkOrderFacts(
        state=WorkOrderState(row.state),
        findings=row.findings,
        labour_hours=row.labour_hours,
        from_alert=row.alert_id is not None,
        alert_outcome=None if row.alert_outcome is None else AlertOutcome(row.alert_outcome),
    )


def _plan(row: Any, to: WorkOrderState, note: str | None, principal: Principal) -> PlannedTransition:
    """Check the move: the state machine (409), then the caller's role (403), then what it needs (422)."""
    facts = facts_of(row)
    if principal.role is Role.TECHNICIAN and to in allowed_next(facts.state) and not technician_may(facts.state, to):
        raise Forbidden(
            f"a technician may not move a work order from {facts.state} to {to}",
            details={"state": facts.state.value, "requested": to.value},
        )
    try:
        return plan_transition(facts, to, note=note)
    except InvalidTransition as exc:
        allowed = [s.value for s in exc.allowed]
        details = {"state": exc.current.value, "requested": exc.requested.value, "allowed": allowed}
        raise InvalidTransitionError(str(exc), details=details) from exc
    except IncompleteTransition as exc:
        missing = {"state": exc.current.value, "requested": exc.requested.value, "missing": exc.missing}
        raise IncompleteTransitionError(str(exc), details=missing) from exc


def move(
    conn: Connection,
    *,
    scope: StoreScope,
    principal: Principal,
    work_order_id: int,
    to: WorkOrderState,
    note: str | None,
    now: datetime | None = None,
) -> WorkOrderMoved:
    """Apply one transition and its effects; return the work order (with the survey link on closing).

    Raises InvalidTransitionError (409, with the allowed states), IncompleteTransitionError (422, with
    what is missing) or Forbidden (a technician's move reserved for the service desk).
    """
    row = scope.get(conn, work_orders, work_order_id, what="work order", lock=True)
    planned = _plan(row, to, note, principal)
    at = now or datetime.now(UTC)
    final = planned.closes or planned.cancels
    conn.execute(
        update(work_orders)
        .where(work_orders.c.id == row.id)
        .values(state=planned.to_state.value, updated_at=at, closed_at=at if final else None)
    )
    extra = {k: row._mapping[k] for k in ("labour_hours", "amount_cny", "alert_outcome")} if planned.closes else None
    record_transition(
        conn, row, planned.from_state, planned.to_state, actor=principal.actor, at=at, note=planned.note, extra=extra
    )
    survey_link = None
    if planned.closes:
        survey_link = _close(conn, row, actor=principal.actor, at=at)
    elif planned.cancels:
        _cancel(conn, row, actor=principal.actor, reason=planned.note or "", at=at)
    detail = get_detail(conn, scope=scope, work_order_id=work_order_id)
    return WorkOrderMoved(**detail.model_dump(), survey_link=survey_link)


def _close(conn: Connection, row: Any, *, actor: str, at: datetime) -> str:
    if row.alert_id is not None:
        _resolve_alert(conn, row.alert_id, Outcome(row.alert_outcome), actor=actor, at=at)
    if row.booking_id is not None:
        _complete_booking(conn, row.booking_id, at=at)
    return send_survey(conn, work_order_id=row.id, store_id=row.store_id, vehicle_id=row.vehicle_id, at=at)


def _cancel(conn: Connection, row: Any, *, actor: str, reason: str, at: datetime) -> None:
    if row.booking_id is not None:
        _complete_booking(conn, row.booking_id, at=at)
    if row.alert_id is not None:
        alert = lifecycle.get_alert(conn, row.alert_id)
        if AlertState.ACKNOWLEDGED in lifecycle.allowed_transitions(alert.state):
            note = f"work order {row.id} cancelled: {reason}"
            lifecycle.transition(conn, row.alert_id, AlertState.ACKNOWLEDGED, actor=actor, at=at, reason=note)


def _resolve_alert(conn: Connection, alert_id: int, outcome: Outcome, *, actor: str, at: datetime) -> None:
    """Resolve the alert with the store's outcome; an alert already closed elsewhere keeps its label."""
    alert = lifecycle.get_alert(conn, alert_id)
    if alert.state in lifecycle.LIVE_STATES:
        lifecycle.transition(conn, alert_id, AlertState.RESOLVED, actor=actor, at=at, outcome=outcome)


def _complete_booking(conn: Connection, booking_id: int, *, at: datetime) -> None:
    """Complete the in-service booking (its visit is over) and release the parts it did not use."""
    conn.execute(
        update(bookings)
        .where(bookings.c.id == booking_id, bookings.c.state == BookingState.IN_SERVICE.value)
        .values(state=BookingState.COMPLETED.value, updated_at=at)
    )
    release_parts(conn, booking_id=booking_id)
