"""Webhook subscriptions and the delivery log: subscribe, list, delete, inspect and retry deliveries.

Events reach subscribers through the notifier (`pitcall notify`); see docs/api/notifications.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from api.db import Db
from api.deps import ManagersOrIntegration, Scope, Settings
from api.errors import ERROR_RESPONSES
from api.notifications import service
from api.notifications.schemas import DeliveryOut, DeliveryState, WebhookCreated, WebhookIn, WebhookOut
from api.pagination import Page

router = APIRouter(tags=["notifications"], responses=ERROR_RESPONSES)
WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post(
    "/webhooks", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED, summary="Subscribe a webhook"
)
def create_webhook(
    body: WebhookIn, db: Db, principal: ManagersOrIntegration, scope: Scope, settings: Settings
) -> WebhookCreated:
    """Subscribe a URL to events of a store (or of every store of the group); the secret is shown once."""
    return service.create_webhook(
        db, scope=scope, principal=principal, body=body, webhook_key=settings.webhook_key.get_secret_value()
    )


@router.get("/webhooks", response_model=Page[WebhookOut], summary="List webhooks")
def list_webhooks(
    db: Db,
    principal: ManagersOrIntegration,
    scope: Scope,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[WebhookOut]:
    """The active webhook subscriptions of the caller's stores, oldest first."""
    return service.list_webhooks(db, scope=scope, principal=principal, cursor=cursor, limit=limit)


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a webhook",
)
def delete_webhook(webhook_id: WebhookId, db: Db, principal: ManagersOrIntegration, scope: Scope) -> Response:
    """Stop a subscription; its deliveries not yet sent are abandoned (state dead)."""
    service.delete_webhook(db, scope=scope, principal=principal, webhook_id=webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/deliveries", response_model=Page[DeliveryOut], summary="List deliveries")
def list_deliveries(
    db: Db,
    _: ManagersOrIntegration,
    scope: Scope,
    state: Annotated[list[DeliveryState] | None, Query(description="default: every state")] = None,
    subscription_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[DeliveryOut]:
    """Webhook calls and customer messages, newest first; dead ones show their attempts and last error."""
    return service.list_deliveries(
        db, scope=scope, states=state or [], subscription_id=subscription_id, cursor=cursor, limit=limit
    )


@router.post("/deliveries/{delivery_id}/retry", response_model=DeliveryOut, summary="Retry a dead delivery")
def retry_delivery(delivery_id: DeliveryId, db: Db, _: ManagersOrIntegration, scope: Scope) -> DeliveryOut:
    """Send a dead delivery again with a fresh set of attempts (409 for any other state)."""
    return service.retry_delivery(db, scope=scope, delivery_id=delivery_id, now=datetime.now(UTC))
