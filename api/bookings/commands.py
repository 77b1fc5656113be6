"""Bookings, writes: confirm a slot, confirm a proposal, cancel. Services never commit.

Holding capacity is the database's job: the exclusion constraints `ex_bookings_technician` and
`ex_bookings_bay` refuse a second capacity-holding booking over the same period (ExclusionViolation,
409 slot_taken) and the stock check refuses reserving more than the store has or expects
(CheckViolation, 409 parts_unavailable). Python checks the slot's rules first for clear messages;
under a race, the database decides. The insert and the reservations run in a savepoint, so after a
refusal the transaction can still read fresh proposals for the error's details.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from psycopg.errors import CheckViolation, ExclusionViolation
from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from api.bookings import service
from api.bookings.errors import PartsUnavailable, SlotTaken
from api.bookings.lifecycle import BookingState, InvalidBookingTransition, check_transition, releases_capacity
from api.bookings.reservations import release_parts, reserve_parts
from api.bookings.schemas import BookingDetail, BookingIn
from api.bookings.service import ProposalInputs
from api.bookings.slots import Slot, SlotProblem, check_slot, parts_ready_on
from api.errors import Conflict, Invalid
from api.tenancy import Principal, StoreScope
from predict import alerts as alert_lifecycle
from predict.alerts import AlertState
from store.outbox import emit
from store.service_tables import bookings
from store.tables import alerts, vehicles

FRESH_PROPOSALS = 3


def book(
    conn: Connection, *, scope: StoreScope, principal: Principal, request: BookingIn, now: datetime | None = None
) -> BookingDetail:
    """Confirm a slot: insert the booking, reserve its parts, move its alert to booked, emit booking.confirmed."""
    now = now or datetime.now(UTC)
    vehicle = scope.get(conn, vehicles, request.vehicle_id, what="vehicle")
    if request.alert_id is not None:
        _check_alert(conn, scope, request.alert_id, vehicle_id=vehicle.id)
    inputs = service.proposal_inputs(
        conn, store_id=vehicle.store_id, op_code=request.op_code, earliest=request.starts_at, now=now
    )
    slot = Slot(request.technician_id, request.bay_id, request.starts_at, request.starts_at + inputs.operation.labour)
    _check_requested(inputs, slot)
    with _holding_capacity(conn, inputs, slot):
        booking_id = int(
            conn.scalar(
                insert(bookings)
                .values(
                    store_id=vehicle.store_id, vehicle_id=vehicle.id, alert_id=request.alert_id,
                    op_code=inputs.operation.op_code, technician_id=slot.technician_id, bay_id=slot.bay_id,
                    starts_at=slot.starts_at, ends_at=slot.ends_at, state=BookingState.CONFIRMED.value,
                    note=request.note, created_by=principal.actor,
                )
                .returning(bookings.c.id)
            )
        )  # fmt: skip
        _reserve(conn, inputs, booking_id, slot)
    return _confirmed(conn, scope, principal, booking_id, now)


def confirm_proposed(
    conn: Connection, *, scope: StoreScope, principal: Principal, booking_id: int, now: datetime | None = None
) -> BookingDetail:
    """Confirm a proposed booking with the same guarantees as `book` (its slot may be taken by now)."""
    now = now or datetime.now(UTC)
    row = scope.get(conn, bookings, booking_id, what="booking", lock=True)
    _check_move(BookingState(row.state), BookingState.CONFIRMED)
    if row.alert_id is not None:
        _check_alert(conn, scope, row.alert_id, vehicle_id=row.vehicle_id)
    inputs = service.proposal_inputs(conn, store_id=row.store_id, op_code=row.op_code, earliest=row.starts_at, now=now)
    slot = Slot(row.technician_id, row.bay_id, row.starts_at, row.ends_at)
    _check_requested(inputs, slot)
    with _holding_capacity(conn, inputs, slot):
        conn.execute(
            update(bookings)
            .where(bookings.c.id == booking_id)
            .values(state=BookingState.CONFIRMED.value, updated_at=func.now())
        )
        _reserve(conn, inputs, booking_id, slot)
    return _confirmed(conn, scope, principal, booking_id, now)


def cancel(
    conn: Connection,
    *,
    scope: StoreScope,
    principal: Principal,
    booking_id: int,
    reason: str,
    now: datetime | None = None,
) -> BookingDetail:
    """Cancel a proposed or confirmed booking: release its parts; a booked alert goes back to acknowledged."""
    now = now or datetime.now(UTC)
    row = scope.get(conn, bookings, booking_id, what="booking", lock=True)
    current = BookingState(row.state)
    _check_move(current, BookingState.CANCELLED)
    conn.execute(
        update(bookings)
        .where(bookings.c.id == booking_id)
        .values(state=BookingState.CANCELLED.value, cancel_reason=reason.strip(), updated_at=func.now())
    )
    released = release_parts(conn, booking_id=booking_id) if releases_capacity(current, BookingState.CANCELLED) else []
    if row.alert_id is not None and current is BookingState.CONFIRMED:
        _unbook_alert(conn, row.alert_id, booking_id, principal=principal, reason=reason, now=now)
    emit(
        conn,
        store_id=row.store_id,
        event_type="booking.cancelled",
        subject_id=booking_id,
        payload={**_payload(row), "from": current.value, "reason": reason.strip(), "actor": principal.actor,
                 "released_parts": [{"part_no": p, "qty": q} for p, q in released]},
    )  # fmt: skip
    return service.get_booking(conn, scope=scope, booking_id=booking_id)


def _check_move(current: BookingState, requested: BookingState) -> None:
    try:
        check_transition(current, requested)
    except InvalidBookingTransition as exc:
        raise Conflict(str(exc), details={"state": current.value, "allowed": sorted(exc.allowed)}) from exc


def _check_alert(conn: Connection, scope: StoreScope, alert_id: int, *, vehicle_id: int) -> None:
    alert = scope.get(conn, alerts, alert_id, what="alert")
    if alert.vehicle_id != vehicle_id:
        raise Invalid(f"alert {alert_id} is not about vehicle {vehicle_id}")
    allowed = alert_lifecycle.allowed_transitions(AlertState(alert.state))
    if AlertState.BOOKED not in allowed:
        raise Conflict(
            f"alert {alert_id} is {alert.state}; it cannot be booked",
            details={"alert_state": alert.state, "allowed": sorted(allowed)},
        )


def _check_requested(inputs: ProposalInputs, slot: Slot) -> None:
    """Refuse a slot in the past, beyond the horizon, or breaking a slot rule (before touching the database)."""
    if slot.starts_at < inputs.now:
        raise Invalid("the slot starts in the past", details={"starts_at": slot.starts_at.isoformat()})
    if slot.starts_at >= inputs.until:
        raise Invalid("the slot is beyond the store's booking horizon", details={"until": inputs.until.isoformat()})
    problem = check_slot(inputs.operation, inputs.capacity, slot)
    if problem is SlotProblem.TAKEN:
        raise SlotTaken("the technician or the bay is booked for part of that time", details=_fresh(inputs))
    if problem is SlotProblem.PARTS:
        ready = parts_ready_on(inputs.operation, inputs.capacity.stock)
        raise PartsUnavailable(
            "the parts are not available by that day",
            details={"parts_ready_on": None if ready is None else str(max(ready, inputs.today()))},
        )
    if problem is not None:
        raise Invalid(f"the slot cannot be booked: {problem.value}", details={"problem": problem.value})


@contextmanager
def _holding_capacity(conn: Connection, inputs: ProposalInputs, slot: Slot) -> Iterator[None]:
    """Run the capacity-holding writes in a savepoint; map the database's refusals to 409s."""
    try:
        with conn.begin_nested():
            yield
    except IntegrityError as exc:
        if isinstance(exc.orig, ExclusionViolation):
            fresh = service.proposal_inputs(
                conn, store_id=inputs.store_id, op_code=inputs.operation.op_code, earliest=slot.starts_at,
                now=inputs.now,
            )  # fmt: skip
            raise SlotTaken("another booking took that slot a moment ago", details=_fresh(fresh)) from exc
        if isinstance(exc.orig, CheckViolation):
            raise PartsUnavailable("not enough parts left to reserve for this booking") from exc
        raise


def _fresh(inputs: ProposalInputs) -> dict[str, Any]:
    return {"proposals": [inputs.slot_out(s).model_dump(mode="json") for s in inputs.slots(FRESH_PROPOSALS)]}


def _reserve(conn: Connection, inputs: ProposalInputs, booking_id: int, slot: Slot) -> None:
    reserve_parts(
        conn,
        booking_id=booking_id,
        store_id=inputs.store_id,
        needs=inputs.operation.parts,
        day=slot.starts_at.astimezone(inputs.timezone).date(),
        today=inputs.today(),
    )


def _confirmed(
    conn: Connection, scope: StoreScope, principal: Principal, booking_id: int, now: datetime
) -> BookingDetail:
    """Move the booking's alert to booked and emit booking.confirmed; return the booking."""
    detail = service.get_booking(conn, scope=scope, booking_id=booking_id)
    if detail.alert_id is not None:
        try:
            alert_lifecycle.transition(
                conn, detail.alert_id, AlertState.BOOKED, actor=principal.actor, at=now, reason=f"booking {booking_id}"
            )
        except alert_lifecycle.InvalidTransition as exc:  # the alert moved on while we booked
            raise Conflict(str(exc), details={"alert_state": exc.current, "allowed": sorted(exc.allowed)}) from exc
        _supersede_proposals(conn, detail.alert_id, booking_id, principal=principal)
    emit(
        conn,
        store_id=detail.store_id,
        event_type="booking.confirmed",
        subject_id=booking_id,
        payload={**_payload(detail), "actor": principal.actor,
                 "parts": [{"part_no": r.part_no, "qty": r.qty, "available_on": str(r.available_on)}
                           for r in detail.reservations]},
    )  # fmt: skip
    return detail


def _supersede_proposals(conn: Connection, alert_id: int, booking_id: int, *, principal: Principal) -> None:
    """Cancel the alert's other proposals: it is booked now, so they can no longer be confirmed."""
    reason = f"superseded by booking {booking_id}"
    b = bookings.c
    stale = conn.execute(
        update(bookings)
        .where(b.alert_id == alert_id, b.state == BookingState.PROPOSED.value, b.id != booking_id)
        .values(state=BookingState.CANCELLED.value, cancel_reason=reason, updated_at=func.now())
        .returning(bookings)
    ).all()
    for row in stale:
        payload = {**_payload(row), "from": BookingState.PROPOSED.value, "reason": reason, "actor": principal.actor,
                   "released_parts": []}  # fmt: skip
        emit(conn, store_id=row.store_id, event_type="booking.cancelled", subject_id=row.id, payload=payload)


def _unbook_alert(
    conn: Connection, alert_id: int, booking_id: int, *, principal: Principal, reason: str, now: datetime
) -> None:
    """Return a booked alert to acknowledged: the store has seen it and still owes the customer a slot."""
    state = AlertState(conn.execute(select(alerts.c.state).where(alerts.c.id == alert_id)).scalar_one())
    if state is AlertState.BOOKED:
        alert_lifecycle.transition(
            conn, alert_id, AlertState.ACKNOWLEDGED, actor=principal.actor, at=now,
            reason=f"booking {booking_id} cancelled: {reason.strip()}",
        )  # fmt: skip


def _payload(row: Any) -> dict[str, Any]:
    return {
        "vehicle_id": row.vehicle_id,
        "alert_id": row.alert_id,
        "op_code": row.op_code,
        "technician_id": row.technician_id,
        "bay_id": row.bay_id,
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
    }
