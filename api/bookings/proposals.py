"""Booking proposals for alerts: a `proposed` booking at the earliest slot, holding no capacity.

`propose_for_alert` is what the route POST /alerts/{id}/proposal calls; `auto_propose` is the rule
prediction's service may call right after raising an alert: only critical alerts of stores with
`store_settings.auto_propose_critical`, and only once per alert. Neither commits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from api.bookings import service
from api.bookings.lifecycle import BookingState
from api.errors import Conflict, NotFound
from predict import alerts as alert_lifecycle
from predict.alerts import AlertState, Severity
from store.outbox import emit
from store.service_tables import bookings, store_settings
from store.tables import alerts

SYSTEM_ACTOR = "pitcall:auto-propose"


def propose_for_alert(
    conn: Connection, alert_id: int, *, actor: str = SYSTEM_ACTOR, now: datetime | None = None
) -> int | None:
    """Propose the earliest slot for an open or acknowledged alert; return the booking id, None if no slot fits.

    An alert has at most one proposal: an existing one is moved to the new earliest slot. Emits
    booking.proposed. Raises NotFound for an unknown alert and Conflict for an alert that cannot be
    booked (already booked or closed). The caller checks the alert's store is in scope.
    """
    now = now or datetime.now(UTC)
    alert = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    allowed = alert_lifecycle.allowed_transitions(AlertState(alert.state))
    if AlertState.BOOKED not in allowed:
        raise Conflict(
            f"alert {alert_id} is {alert.state}; it cannot be booked",
            details={"alert_state": alert.state, "allowed": sorted(allowed)},
        )
    inputs = service.proposal_inputs(conn, store_id=alert.store_id, op_code=alert.operation, earliest=now, now=now)
    slots = inputs.slots(1)
    if not slots:
        return None
    slot = slots[0]
    values: dict[str, Any] = {
        "technician_id": slot.technician_id,
        "bay_id": slot.bay_id,
        "starts_at": slot.starts_at,
        "ends_at": slot.ends_at,
        "op_code": inputs.operation.op_code,
    }
    booking_id = _existing_proposal(conn, alert_id)
    if booking_id is None:
        booking_id = int(
            conn.scalar(
                insert(bookings)
                .values(store_id=alert.store_id, vehicle_id=alert.vehicle_id, alert_id=alert_id,
                        state=BookingState.PROPOSED.value, created_by=actor, **values)
                .returning(bookings.c.id)
            )
        )  # fmt: skip
    else:
        conn.execute(update(bookings).where(bookings.c.id == booking_id).values(**values, updated_at=func.now()))
    payload = {
        **values,
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
        "vehicle_id": alert.vehicle_id,
        "alert_id": alert_id,
        "actor": actor,
    }
    emit(conn, store_id=alert.store_id, event_type="booking.proposed", subject_id=booking_id, payload=payload)
    return booking_id


def auto_propose(conn: Connection, alert_id: int, *, now: datetime | None = None) -> int | None:
    """Propose a slot for a new critical alert if its store asks for it; return the booking id or None.

    Does nothing (None) for a non-critical or non-live alert, a store without auto_propose_critical,
    an alert that already has a proposal, or when no slot fits.
    """
    alert = conn.execute(
        select(alerts.c.store_id, alerts.c.severity, alerts.c.state).where(alerts.c.id == alert_id)
    ).first()
    if alert is None or alert.severity != Severity.CRITICAL.value:
        return None
    if alert.state not in (AlertState.OPEN.value, AlertState.ACKNOWLEDGED.value):
        return None
    enabled = conn.scalar(
        select(store_settings.c.auto_propose_critical).where(store_settings.c.store_id == alert.store_id)
    )
    if not enabled or _existing_proposal(conn, alert_id) is not None:
        return None
    return propose_for_alert(conn, alert_id, now=now)


def _existing_proposal(conn: Connection, alert_id: int) -> int | None:
    found = conn.scalar(
        select(bookings.c.id)
        .where(bookings.c.alert_id == alert_id, bookings.c.state == BookingState.PROPOSED.value)
        .order_by(bookings.c.id)
        .limit(1)
        .with_for_update()
    )
    return None if found is None else int(found)
