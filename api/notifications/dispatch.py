"""Fan outbox events out into deliveries: one per matching webhook subscription and one per customer.

`dispatch` runs in the caller's transaction: the deliveries and the event's `dispatched_at` commit
together, so an event is fanned out exactly once even with several workers (rows are taken with
FOR UPDATE SKIP LOCKED, and (outbox_id, channel, recipient) is unique).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from api.bookings.proposals import auto_propose
from api.notifications.rules import (
    CUSTOMER_EVENTS,
    CustomerContact,
    Subscription,
    customer_recipient,
    subscription_wants,
)
from store.service_tables import deliveries, outbox, webhook_subscriptions
from store.tables import customers, stores, vehicles


def dispatch(conn: Connection, now: datetime, *, limit: int = 100) -> int:
    """Fan out up to `limit` undispatched events in id order; return how many were dispatched.

    A new alert also gets its store's automatic booking proposal here (critical alerts, when the store
    enabled it): the proposal and its booking.proposed event commit with the dispatch."""
    events = conn.execute(
        select(outbox)
        .where(outbox.c.dispatched_at.is_(None))
        .order_by(outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not events:
        return 0
    group_of = _groups(conn, {e.store_id for e in events})
    subscriptions = _active_subscriptions(conn, set(group_of.values()))
    rows: list[dict[str, Any]] = []
    for event in events:
        if event.event_type == "alert.raised":
            auto_propose(conn, event.subject_id, now=now)  # the store's automatic proposal for critical alerts
        rows += _webhook_rows(event, subscriptions, group_of[event.store_id], now)
        rows += _customer_rows(conn, event, now)
    if rows:
        conn.execute(
            pg_insert(deliveries).values(rows).on_conflict_do_nothing(constraint="uq_deliveries_event_recipient")
        )
    conn.execute(update(outbox).where(outbox.c.id.in_([e.id for e in events])).values(dispatched_at=now))
    return len(events)


def customer_of_event(conn: Connection, store_id: int, payload: Mapping[str, Any]) -> Row[Any] | None:
    """Find the event's customer in the event's store: by `customer_id`, else by `vehicle_id`'s owner."""
    customer_id = payload.get("customer_id")
    if customer_id is None and payload.get("vehicle_id") is not None:
        customer_id = conn.scalar(
            select(vehicles.c.customer_id).where(
                vehicles.c.id == payload["vehicle_id"], vehicles.c.store_id == store_id
            )
        )
    if customer_id is None:
        return None
    return conn.execute(
        select(customers).where(customers.c.id == customer_id, customers.c.store_id == store_id)
    ).first()


def contact_of(customer: Row[Any]) -> CustomerContact:
    """The consent and addresses of a customer row."""
    return CustomerContact(
        preferred_channel=customer.preferred_channel,
        consent_proactive_contact=customer.consent_proactive_contact,
        phone=customer.phone,
        email=customer.email,
        wechat_id=customer.wechat_id,
    )


def _groups(conn: Connection, store_ids: set[int]) -> dict[int, int]:
    rows = conn.execute(select(stores.c.id, stores.c.group_id).where(stores.c.id.in_(sorted(store_ids))))
    return {r.id: r.group_id for r in rows}


def _active_subscriptions(conn: Connection, group_ids: set[int]) -> list[tuple[Subscription, str]]:
    rows = conn.execute(
        select(webhook_subscriptions)
        .where(webhook_subscriptions.c.active, webhook_subscriptions.c.group_id.in_(sorted(group_ids)))
        .order_by(webhook_subscriptions.c.id)
    )
    return [(Subscription(r.id, r.group_id, r.store_id, tuple(r.event_types)), r.url) for r in rows]


def _webhook_rows(
    event: Row[Any], subscriptions: list[tuple[Subscription, str]], group_id: int, now: datetime
) -> list[dict[str, Any]]:
    return [
        _delivery(event, "webhook", url, now, subscription_id=sub.id)
        for sub, url in subscriptions
        if subscription_wants(sub, event_type=event.event_type, store_id=event.store_id, group_id=group_id)
    ]


def _customer_rows(conn: Connection, event: Row[Any], now: datetime) -> list[dict[str, Any]]:
    if event.event_type not in CUSTOMER_EVENTS:
        return []
    customer = customer_of_event(conn, event.store_id, event.payload)
    if customer is None:
        return []
    target = customer_recipient(event.event_type, contact_of(customer))
    if target is None:
        return []
    channel, address = target
    return [_delivery(event, channel, address, now)]


def _delivery(
    event: Row[Any], channel: str, recipient: str, now: datetime, *, subscription_id: int | None = None
) -> dict[str, Any]:
    return {
        "outbox_id": event.id,
        "store_id": event.store_id,
        "channel": channel,
        "subscription_id": subscription_id,
        "recipient": recipient,
        "next_attempt_at": now,
    }
