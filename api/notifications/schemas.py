"""Bodies of the webhook and delivery routes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, HttpUrl, field_validator

from api.notifications.rules import valid_pattern
from store.outbox import EVENT_TYPES


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class DeliveryChannel(StrEnum):
    WEBHOOK = "webhook"
    SMS = "sms"
    EMAIL = "email"
    WECHAT = "wechat"


class WebhookIn(BaseModel):
    url: HttpUrl = Field(
        description="http(s) URL that receives signed POSTs", examples=["https://crm.example.com/hooks"]
    )
    event_types: list[str] = Field(
        min_length=1,
        max_length=len(EVENT_TYPES),
        description="event types, `<subject>.*` or `*`",
        examples=[["alert.*", "booking.confirmed"]],
    )
    store_id: int | None = Field(
        None, description="one store; omitted by a group-wide caller: every store of the group"
    )

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = [p for p in value if not valid_pattern(p, EVENT_TYPES)]
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {', '.join(EVENT_TYPES)}")
        return sorted(set(value))


class WebhookOut(BaseModel):
    id: int
    group_id: int
    store_id: int | None = Field(description="null: every store of the group")
    url: str
    event_types: list[str]
    created_by: str
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="HMAC-SHA256 signing secret; shown only now. Verify X-Pitcall-Signature = "
        'sha256=hex(HMAC(secret, "<X-Pitcall-Timestamp>.<body>"))'
    )


class DeliveryOut(BaseModel):
    id: int
    outbox_id: int = Field(description="the event's id (the webhook body's `id`)")
    event_type: str
    store_id: int
    channel: DeliveryChannel
    subscription_id: int | None
    recipient: str = Field(description="the webhook URL, phone number, e-mail address or WeChat id")
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    last_status: int | None = Field(description="HTTP status of the last webhook attempt")
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
