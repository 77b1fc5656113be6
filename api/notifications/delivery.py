"""Deliver due deliveries: claim (commit), call the adapter outside any transaction, record (commit).

Contract: a delivery is claimed by raising its attempt count and hiding it for the policy's lease;
if the process dies between the call and the record, the lease expires and the delivery is sent
again (the receiver deduplicates on X-Pitcall-Delivery). Nothing is ever marked delivered before
the adapter accepted it. A delivery whose results were never recorded for `max_attempts` claims is
marked dead, so one poisonous row cannot crash workers forever.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, select, update

from api.notifications.adapters import (
    Adapters,
    CustomerMessage,
    DeliveryFailed,
    Undeliverable,
    WebhookCall,
)
from api.notifications.dispatch import contact_of, customer_of_event
from api.notifications.rules import Outcome, RetryPolicy, after_attempt, customer_recipient
from api.notifications.templates import MessageContext, TemplateError, render
from store.service_tables import deliveries, outbox, service_operations, webhook_subscriptions
from store.tables import stores, vehicles


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed delivery, ready to send (or known to be undeliverable)."""

    delivery_id: int
    attempts: int
    webhook: WebhookCall | None = None
    message: CustomerMessage | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    ok: bool
    status: int | None = None
    error: str | None = None
    give_up: bool = False


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    dead: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(self.delivered + other.delivered, self.retrying + other.retrying, self.dead + other.dead)


def deliver_due(
    engine: Engine, now: datetime, adapters: Adapters, *, policy: RetryPolicy | None = None, limit: int = 20
) -> DeliveryReport:
    """Send up to `limit` pending deliveries due at `now`; return what became of them."""
    policy = policy or RetryPolicy()
    with engine.begin() as conn:
        claimed = claim(conn, now, policy=policy, limit=limit, public_url=adapters.public_url)
    report = DeliveryReport()
    for item in claimed:
        attempt = send(item, adapters)
        with engine.begin() as conn:
            report += record(conn, item, attempt, now=now, policy=policy)
    return report


def claim(
    conn: Connection, now: datetime, *, policy: RetryPolicy, limit: int, public_url: str | None = None
) -> list[Claimed]:
    """Claim due deliveries (SKIP LOCKED): count the attempt and hide them for the lease.

    `public_url` is where customers reach pitcall's public pages (survey links), if configured."""
    _bury_unrecorded(conn, now, policy)
    due = (
        select(deliveries.c.id)
        .where(deliveries.c.state == "pending", deliveries.c.next_attempt_at <= now)
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(conn.scalars(due))
    if not ids:
        return []
    rows = conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(ids))
        .values(attempts=deliveries.c.attempts + 1, next_attempt_at=now + policy.lease)
        .returning(deliveries)
    ).all()
    return [_prepare(conn, row, now, public_url) for row in sorted(rows, key=lambda r: r.id)]


def send(item: Claimed, adapters: Adapters) -> Attempt:
    """Call the adapter for one claimed delivery (no database transaction is open here)."""
    if item.problem is not None:
        return Attempt(ok=False, error=item.problem, give_up=True)
    try:
        if item.webhook is not None:
            return Attempt(ok=True, status=adapters.webhook.post(item.webhook))
        assert item.message is not None
        sender = adapters.messages.get(item.message.channel)
        if sender is None:
            raise Undeliverable(f"no adapter for channel {item.message.channel}")
        sender.send(item.message)
        return Attempt(ok=True)
    except DeliveryFailed as exc:
        return Attempt(ok=False, status=exc.status, error=str(exc))
    except Undeliverable as exc:
        return Attempt(ok=False, error=str(exc), give_up=True)


def record(conn: Connection, item: Claimed, attempt: Attempt, *, now: datetime, policy: RetryPolicy) -> DeliveryReport:
    """Store the attempt's result, unless another worker re-claimed the delivery meanwhile."""
    if attempt.give_up:
        outcome = Outcome("dead", now, None)
    else:
        outcome = after_attempt(policy, ok=attempt.ok, attempts=item.attempts, delivery_id=item.delivery_id, now=now)
    changed = conn.execute(
        update(deliveries)
        .where(deliveries.c.id == item.delivery_id, deliveries.c.state == "pending")
        .where(deliveries.c.attempts == item.attempts)
        .values(
            state=outcome.state,
            next_attempt_at=outcome.next_attempt_at,
            delivered_at=outcome.delivered_at,
            last_status=attempt.status,
            last_error=attempt.error,
        )
    ).rowcount
    if not changed:
        return DeliveryReport()
    return DeliveryReport(
        delivered=int(outcome.state == "delivered"),
        retrying=int(outcome.state == "pending"),
        dead=int(outcome.state == "dead"),
    )


def _bury_unrecorded(conn: Connection, now: datetime, policy: RetryPolicy) -> None:
    conn.execute(
        update(deliveries)
        .where(deliveries.c.state == "pending", deliveries.c.next_attempt_at <= now)
        .where(deliveries.c.attempts >= policy.max_attempts)
        .values(state="dead", last_error=f"no result recorded after {policy.max_attempts} attempts")
    )


def _prepare(conn: Connection, row: Row[Any], now: datetime, public_url: str | None) -> Claimed:
    event = conn.execute(select(outbox).where(outbox.c.id == row.outbox_id)).one()
    try:
        if row.channel == "webhook":
            return Claimed(row.id, row.attempts, webhook=_webhook_call(conn, row, event, now))
        return Claimed(row.id, row.attempts, message=_customer_message(conn, row, event, public_url))
    except (Undeliverable, TemplateError) as exc:
        return Claimed(row.id, row.attempts, problem=str(exc))


def event_body(event: Row[Any]) -> bytes:
    """The JSON a webhook receives: the event's id, type, store, subject, time and payload."""
    document = {
        "id": event.id,
        "event": event.event_type,
        "store_id": event.store_id,
        "subject_id": event.subject_id,
        "occurred_at": event.created_at.isoformat(),
        "data": event.payload,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def _webhook_call(conn: Connection, row: Row[Any], event: Row[Any], now: datetime) -> WebhookCall:
    active = conn.scalar(
        select(webhook_subscriptions.c.active).where(webhook_subscriptions.c.id == row.subscription_id)
    )
    if not active:
        raise Undeliverable(f"webhook subscription {row.subscription_id} was deleted")
    return WebhookCall(
        url=row.recipient,
        subscription_id=row.subscription_id,
        delivery_id=row.id,
        event_type=event.event_type,
        body=event_body(event),
        timestamp=int(now.timestamp()),
    )


def _customer_message(conn: Connection, row: Row[Any], event: Row[Any], public_url: str | None) -> CustomerMessage:
    customer = customer_of_event(conn, event.store_id, event.payload)
    if customer is None:
        raise Undeliverable("the event's customer no longer exists")
    if customer_recipient(event.event_type, contact_of(customer)) != (row.channel, row.recipient):
        raise Undeliverable("the customer's consent or contact changed since the event")
    context = _context(conn, event, customer, public_url)
    rendered = render(event.event_type, event.payload, context)
    return CustomerMessage(
        delivery_id=row.id,
        channel=row.channel,
        recipient=row.recipient,
        language=context.language,
        event_type=event.event_type,
        subject=rendered.subject,
        body=rendered.body,
    )


def _context(conn: Connection, event: Row[Any], customer: Row[Any], public_url: str | None) -> MessageContext:
    store = conn.execute(select(stores.c.name, stores.c.timezone).where(stores.c.id == event.store_id)).one()
    language = customer.preferred_language
    vehicle = None
    if event.payload.get("vehicle_id") is not None:
        car = conn.execute(
            select(vehicles.c.make, vehicles.c.model).where(
                vehicles.c.id == event.payload["vehicle_id"], vehicles.c.store_id == event.store_id
            )
        ).first()
        vehicle = None if car is None else f"{car.make} {car.model}"
    operation = None
    if event.payload.get("operation"):
        name = service_operations.c.name_zh if language == "zh" else service_operations.c.name_en
        operation = conn.scalar(select(name).where(service_operations.c.op_code == event.payload["operation"]))
    return MessageContext(
        language=language,
        store_name=store.name,
        customer_name=customer.name,
        timezone=store.timezone,
        vehicle=vehicle,
        operation_name=operation,
        public_url=public_url,
    )
