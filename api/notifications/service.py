"""Webhook subscriptions and the delivery log for people and integrations.

Tenancy: a subscription of one store is seen through the caller's StoreScope like any store row; a
group-wide subscription (store_id NULL) is seen only by group-wide callers of that group.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, and_, insert, or_, select, update

from api.errors import Conflict, Invalid, NotFound
from api.notifications.rules import subscription_secret
from api.notifications.schemas import DeliveryOut, DeliveryState, WebhookCreated, WebhookIn, WebhookOut
from api.pagination import Page, decode_cursor, encode_cursor
from api.tenancy import Principal, StoreScope
from store.service_tables import deliveries, outbox, webhook_subscriptions

RETRYABLE = ["dead"]


def create_webhook(
    conn: Connection, *, scope: StoreScope, principal: Principal, body: WebhookIn, webhook_key: str
) -> WebhookCreated:
    """Subscribe a URL; a store caller's subscription is for its store. Return it with its secret."""
    store_id = scope.check(body.store_id) if body.store_id is not None else principal.store_id
    row = conn.execute(
        insert(webhook_subscriptions)
        .values(
            group_id=principal.group_id,
            store_id=store_id,
            url=str(body.url),
            event_types=body.event_types,
            created_by=principal.actor,
        )
        .returning(webhook_subscriptions)
    ).one()
    return WebhookCreated(**_webhook(row).model_dump(), secret=subscription_secret(webhook_key, row.id))


def list_webhooks(
    conn: Connection, *, scope: StoreScope, principal: Principal, cursor: str | None, limit: int
) -> Page[WebhookOut]:
    """The active subscriptions the caller can see, oldest first."""
    query = select(webhook_subscriptions).where(_visible(scope, principal), webhook_subscriptions.c.active)
    after = _cursor_id(cursor)
    if after is not None:
        query = query.where(webhook_subscriptions.c.id > after)
    rows = conn.execute(query.order_by(webhook_subscriptions.c.id).limit(limit + 1)).all()
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return Page[WebhookOut](items=[_webhook(r) for r in rows[:limit]], next_cursor=next_cursor)


def delete_webhook(conn: Connection, *, scope: StoreScope, principal: Principal, webhook_id: int) -> None:
    """Deactivate a subscription; its pending deliveries go dead (they will not be sent)."""
    row = conn.execute(
        select(webhook_subscriptions.c.id)
        .where(webhook_subscriptions.c.id == webhook_id, webhook_subscriptions.c.active)
        .where(_visible(scope, principal))
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no webhook {webhook_id}")
    conn.execute(update(webhook_subscriptions).where(webhook_subscriptions.c.id == webhook_id).values(active=False))
    conn.execute(
        update(deliveries)
        .where(deliveries.c.subscription_id == webhook_id, deliveries.c.state == "pending")
        .values(state="dead", last_error="the webhook subscription was deleted")
    )


def list_deliveries(
    conn: Connection,
    *,
    scope: StoreScope,
    states: list[DeliveryState],
    subscription_id: int | None,
    cursor: str | None,
    limit: int,
) -> Page[DeliveryOut]:
    """The delivery log of the caller's stores, newest first."""
    query = _deliveries().where(scope.where(deliveries))
    if states:
        query = query.where(deliveries.c.state.in_([s.value for s in states]))
    if subscription_id is not None:
        query = query.where(deliveries.c.subscription_id == subscription_id)
    after = _cursor_id(cursor)
    if after is not None:
        query = query.where(deliveries.c.id < after)
    rows = conn.execute(query.order_by(deliveries.c.id.desc()).limit(limit + 1)).all()
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return Page[DeliveryOut](items=[_delivery(r) for r in rows[:limit]], next_cursor=next_cursor)


def retry_delivery(conn: Connection, *, scope: StoreScope, delivery_id: int, now: datetime) -> DeliveryOut:
    """Give a dead delivery a fresh set of attempts from `now`; any other state is a Conflict."""
    row = scope.get(conn, deliveries, delivery_id, what="delivery", lock=True)
    if row.state not in RETRYABLE:
        raise Conflict(
            f"only a dead delivery can be retried; this one is {row.state}",
            details={"state": row.state, "retryable": RETRYABLE},
        )
    if row.subscription_id is not None and not conn.scalar(
        select(webhook_subscriptions.c.active).where(webhook_subscriptions.c.id == row.subscription_id)
    ):
        raise Conflict("the webhook subscription was deleted", details={"subscription_id": row.subscription_id})
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id)
        .values(state="pending", attempts=0, next_attempt_at=now, delivered_at=None)
    )
    return _delivery(conn.execute(_deliveries().where(deliveries.c.id == delivery_id)).one())


def _cursor_id(cursor: str | None) -> int | None:
    values = decode_cursor(cursor, 1)
    if values is None:
        return None
    if not isinstance(values[0], int) or isinstance(values[0], bool) or not 0 <= values[0] < 2**63:
        raise Invalid("the cursor is not valid")
    return values[0]


def _visible(scope: StoreScope, principal: Principal) -> ColumnElement[bool]:
    own_stores = scope.where(webhook_subscriptions)
    if principal.store_id is not None:
        return own_stores
    group_wide = and_(
        webhook_subscriptions.c.store_id.is_(None), webhook_subscriptions.c.group_id == principal.group_id
    )
    return or_(own_stores, group_wide)


def _deliveries() -> Select[Any]:
    return select(deliveries, outbox.c.event_type).join(outbox, outbox.c.id == deliveries.c.outbox_id)


def _webhook(row: Row[Any]) -> WebhookOut:
    m = row._mapping
    return WebhookOut.model_validate({k: m[k] for k in WebhookOut.model_fields})


def _delivery(row: Row[Any]) -> DeliveryOut:
    m = row._mapping
    return DeliveryOut.model_validate({k: m[k] for k in DeliveryOut.model_fields})
