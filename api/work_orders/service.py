"""Work orders: open from a booking or a walk-in, list, read, and record findings and labour.

The state machine is states.py's; moves and their effects are in transitions.py, parts in parts.py.
Every query goes through the caller's StoreScope; services never commit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, insert, select, update

from api.bookings.lifecycle import BookingState, InvalidBookingTransition, check_transition
from api.errors import Conflict, Forbidden, Invalid
from api.pagination import Page, decode_cursor, encode_cursor
from api.surveys.service import result_of
from api.tenancy import Principal, Role, StoreScope
from api.work_orders.schemas import (
    PlannedPartOut,
    TransitionOut,
    UsedPartOut,
    WalkInIn,
    WorkOrderDetail,
    WorkOrderOut,
    WorkOrderPatch,
)
from api.work_orders.states import WorkOrderState, allowed_next, is_final
from store.outbox import emit
from store.service_tables import (
    bookings,
    part_reservations,
    service_operations,
    technicians,
    work_order_parts,
    work_order_transitions,
    work_orders,
)
from store.tables import alerts, vehicles

TECHNICIAN_FIELDS = frozenset({"findings", "labour_hours", "alert_outcome"})


class WorkOrderExists(Conflict):
    code = "work_order_exists"


class WorkOrderFinal(Conflict):
    code = "work_order_final"


def record_transition(
    conn: Connection,
    row: Any,
    from_state: WorkOrderState | None,
    to_state: WorkOrderState,
    *,
    actor: str,
    at: datetime,
    note: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write who moved the work order when; emit work_order.<to_state> (work_order.created on opening).

    `extra` adds fields to the event's payload (closing adds the labour, amount and alert outcome).
    """
    conn.execute(
        insert(work_order_transitions).values(
            work_order_id=row.id,
            from_state=None if from_state is None else from_state.value,
            to_state=to_state.value,
            at=at,
            actor=actor,
            note=note,
        )
    )
    payload = {
        "vehicle_id": row.vehicle_id,
        "booking_id": row.booking_id,
        "alert_id": row.alert_id,
        "technician_id": row.technician_id,
        "from": None if from_state is None else from_state.value,
        "to": to_state.value,
        "actor": actor,
        "note": note,
        **(extra or {}),
    }
    event_type = "work_order.created" if from_state is None else f"work_order.{to_state.value}"
    emit(conn, store_id=row.store_id, event_type=event_type, subject_id=row.id, payload=payload)


def _open(conn: Connection, values: dict[str, Any], *, actor: str, at: datetime) -> int:
    row = conn.execute(
        insert(work_orders)
        .values(**values, state=WorkOrderState.CHECK_IN.value, created_by=actor, created_at=at, updated_at=at)
        .returning(work_orders)
    ).one()
    record_transition(conn, row, None, WorkOrderState.CHECK_IN, actor=actor, at=at)
    return int(row.id)


def create_from_booking(
    conn: Connection, *, scope: StoreScope, principal: Principal, booking_id: int, now: datetime | None = None
) -> WorkOrderDetail:
    """Check in a booked car: copy the booking and its alert's evidence; the booking goes to in_service.

    One work order per booking: a second call raises WorkOrderExists with the existing id. Only a
    confirmed booking can be checked in.
    """
    booking = scope.get(conn, bookings, booking_id, what="booking", lock=True)
    existing = conn.scalar(select(work_orders.c.id).where(work_orders.c.booking_id == booking_id))
    if existing is not None:
        raise WorkOrderExists(
            f"booking {booking_id} already has work order {existing}", details={"work_order_id": existing}
        )
    try:
        check_transition(BookingState(booking.state), BookingState.IN_SERVICE)
    except InvalidBookingTransition as exc:
        raise Conflict(
            f"booking is {booking.state}; only a confirmed booking can be checked in",
            details={"state": booking.state, "required": BookingState.CONFIRMED.value},
        ) from exc
    evidence: dict[str, Any] | None = None
    if booking.alert_id is not None:
        evidence = conn.scalar(select(alerts.c.evidence).where(alerts.c.id == booking.alert_id, scope.where(alerts)))
    at = now or datetime.now(UTC)
    values = {
        "store_id": booking.store_id,
        "vehicle_id": booking.vehicle_id,
        "booking_id": booking.id,
        "alert_id": booking.alert_id,
        "op_code": booking.op_code,
        "technician_id": booking.technician_id,
        "complaint": booking.note or "",
        "evidence": evidence or {},
    }
    work_order_id = _open(conn, values, actor=principal.actor, at=at)
    conn.execute(
        update(bookings).where(bookings.c.id == booking.id).values(state=BookingState.IN_SERVICE.value, updated_at=at)
    )
    return get_detail(conn, scope=scope, work_order_id=work_order_id)


def create_walk_in(
    conn: Connection, *, scope: StoreScope, principal: Principal, body: WalkInIn, now: datetime | None = None
) -> WorkOrderDetail:
    """Check in a car that came without a booking."""
    vehicle = scope.get(conn, vehicles, body.vehicle_id, what="vehicle")
    if body.op_code is not None and not _operation_exists(conn, body.op_code):
        raise Invalid(f"no service operation {body.op_code}", details={"field": "op_code"})
    if body.technician_id is not None:
        _check_technician(conn, store_id=vehicle.store_id, technician_id=body.technician_id)
    values = {
        "store_id": vehicle.store_id,
        "vehicle_id": vehicle.id,
        "op_code": body.op_code,
        "technician_id": body.technician_id,
        "complaint": body.complaint.strip(),
    }
    work_order_id = _open(conn, values, actor=principal.actor, at=now or datetime.now(UTC))
    return get_detail(conn, scope=scope, work_order_id=work_order_id)


def _operation_exists(conn: Connection, op_code: str) -> bool:
    return conn.scalar(select(service_operations.c.op_code).where(service_operations.c.op_code == op_code)) is not None


def _check_technician(conn: Connection, *, store_id: int, technician_id: int) -> None:
    found = conn.scalar(
        select(technicians.c.id).where(
            technicians.c.id == technician_id, technicians.c.store_id == store_id, technicians.c.active
        )
    )
    if found is None:
        raise Invalid(f"no active technician {technician_id} in this store", details={"field": "technician_id"})


def _listing(scope: StoreScope) -> Select[Any]:
    return (
        select(work_orders, vehicles.c.vin)
        .join(vehicles, vehicles.c.id == work_orders.c.vehicle_id)
        .where(scope.where(work_orders))
    )


def _out(row: Any) -> WorkOrderOut:
    m = row._mapping
    return WorkOrderOut.model_validate({k: m[k] for k in WorkOrderOut.model_fields})


def list_work_orders(
    conn: Connection,
    *,
    scope: StoreScope,
    states: list[WorkOrderState],
    technician_id: int | None,
    vehicle_id: int | None,
    cursor: str | None,
    limit: int,
) -> Page[WorkOrderOut]:
    """The caller's work orders, newest first, filtered by state, technician and vehicle."""
    query = _listing(scope)
    if states:
        query = query.where(work_orders.c.state.in_([s.value for s in states]))
    if technician_id is not None:
        query = query.where(work_orders.c.technician_id == technician_id)
    if vehicle_id is not None:
        query = query.where(work_orders.c.vehicle_id == vehicle_id)
    after = decode_cursor(cursor, 1)
    if after is not None:
        if not isinstance(after[0], int) or isinstance(after[0], bool) or not 0 < after[0] < 2**63:
            raise Invalid("the cursor is not valid")
        query = query.where(work_orders.c.id < after[0])
    rows = conn.execute(query.order_by(work_orders.c.id.desc()).limit(limit + 1)).all()
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return Page[WorkOrderOut](items=[_out(r) for r in rows[:limit]], next_cursor=next_cursor)


def get_detail(conn: Connection, *, scope: StoreScope, work_order_id: int) -> WorkOrderDetail:
    """One work order with its vehicle, operation, history, planned and used parts, and survey."""
    scope.get(conn, work_orders, work_order_id, what="work order")
    row = conn.execute(
        _listing(scope)
        .add_columns(vehicles.c.make, vehicles.c.model, vehicles.c.year)
        .add_columns(service_operations.c.name_en.label("operation_name_en"))
        .add_columns(service_operations.c.name_zh.label("operation_name_zh"))
        .outerjoin(service_operations, service_operations.c.op_code == work_orders.c.op_code)
        .where(work_orders.c.id == work_order_id)
    ).one()
    m = row._mapping
    return WorkOrderDetail(
        **_out(row).model_dump(),
        evidence=m["evidence"],
        make=m["make"],
        model=m["model"],
        year=m["year"],
        operation_name_en=m["operation_name_en"],
        operation_name_zh=m["operation_name_zh"],
        allowed_transitions=list(allowed_next(WorkOrderState(m["state"]))),
        transitions=_transitions(conn, work_order_id),
        planned_parts=_planned_parts(conn, m["booking_id"]),
        parts=_used_parts(conn, work_order_id),
        survey=result_of(conn, work_order_id=work_order_id),
    )


def _transitions(conn: Connection, work_order_id: int) -> list[TransitionOut]:
    t = work_order_transitions.c
    rows = conn.execute(select(work_order_transitions).where(t.work_order_id == work_order_id).order_by(t.at, t.id))
    return [
        TransitionOut(from_state=r.from_state, to_state=r.to_state, at=r.at, actor=r.actor, note=r.note) for r in rows
    ]


def _planned_parts(conn: Connection, booking_id: int | None) -> list[PlannedPartOut]:
    if booking_id is None:
        return []
    r = part_reservations.c
    rows = conn.execute(select(part_reservations).where(r.booking_id == booking_id).order_by(r.id))
    return [
        PlannedPartOut(reservation_id=x.id, part_no=x.part_no, qty=x.qty, available_on=x.available_on, state=x.state)
        for x in rows
    ]


def _used_parts(conn: Connection, work_order_id: int) -> list[UsedPartOut]:
    p = work_order_parts.c
    rows = conn.execute(select(work_order_parts).where(p.work_order_id == work_order_id).order_by(p.id))
    return [UsedPartOut(id=x.id, part_no=x.part_no, qty=x.qty, reservation_id=x.reservation_id) for x in rows]


def lock_open(conn: Connection, *, scope: StoreScope, work_order_id: int) -> Any:
    """Return the work order's row locked; raise WorkOrderFinal if it is closed or cancelled."""
    row = scope.get(conn, work_orders, work_order_id, what="work order", lock=True)
    if is_final(WorkOrderState(row.state)):
        raise WorkOrderFinal(f"work order is {row.state}; nothing can change", details={"state": row.state})
    return row


def update_facts(
    conn: Connection,
    *,
    scope: StoreScope,
    principal: Principal,
    work_order_id: int,
    body: WorkOrderPatch,
    now: datetime | None = None,
) -> WorkOrderDetail:
    """Record findings, labour, the alert's outcome, the technician or the amount on an open work order.

    Technicians may set findings, labour_hours and alert_outcome; the rest is for the service desk.
    """
    row = lock_open(conn, scope=scope, work_order_id=work_order_id)
    values = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    desk_only = sorted(set(values) - TECHNICIAN_FIELDS)
    if principal.role is Role.TECHNICIAN and desk_only:
        raise Forbidden(f"a technician may not change {', '.join(desk_only)}", details={"fields": desk_only})
    if "alert_outcome" in values and row.alert_id is None:
        raise Invalid("this work order did not come from an alert", details={"field": "alert_outcome"})
    if "technician_id" in values:
        _check_technician(conn, store_id=row.store_id, technician_id=values["technician_id"])
    if values:
        at = now or datetime.now(UTC)
        conn.execute(update(work_orders).where(work_orders.c.id == row.id).values(**values, updated_at=at))
    return get_detail(conn, scope=scope, work_order_id=work_order_id)
