"""Write an event to the outbox, in the caller's transaction (so it exists only if the change does).

Event types are `<subject>.<verb>`: alert.raised, alert.watched (raised while its mode is held back: the
watch list, no customer message), alert.open (from the watch list into the queue), alert.acknowledged,
alert.dismissed, alert.booked, alert.resolved, booking.proposed, booking.confirmed, booking.cancelled,
work_order.created (the check-in), work_order.<state> for each later state, survey.sent, survey.answered.
api/notifications fans them out to webhooks and customer messages.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert

from store.service_tables import outbox

EVENT_TYPES = (
    "alert.raised",
    "alert.watched",
    "alert.open",
    "alert.acknowledged",
    "alert.dismissed",
    "alert.booked",
    "alert.resolved",
    "booking.proposed",
    "booking.confirmed",
    "booking.cancelled",
    "work_order.created",
    "work_order.check_in",
    "work_order.diagnosis",
    "work_order.repair",
    "work_order.quality_check",
    "work_order.settlement",
    "work_order.closed",
    "work_order.cancelled",
    "survey.sent",
    "survey.answered",
)


def emit(conn: Connection, *, store_id: int, event_type: str, subject_id: int, payload: dict[str, Any]) -> int:
    """Record one event; return its id. Raise ValueError for an event type not listed above."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    event_id = conn.scalar(
        insert(outbox)
        .values(store_id=store_id, event_type=event_type, subject_id=subject_id, payload=payload)
        .returning(outbox.c.id)
    )
    return int(event_id)
