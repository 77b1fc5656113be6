"""Delivery adapters: the webhook poster (httpx) and customer message senders (SMS, e-mail, WeChat).

Every adapter raises `DeliveryFailed` (retry later) or `Undeliverable` (give up now); third-party
errors are caught here and re-raised as ours.
"""

from __future__ import annotations

import importlib
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from api.notifications.rules import MESSAGE_CHANNELS, signature, subscription_secret

log = logging.getLogger(__name__)


class NotificationError(Exception):
    """Base of the notification errors."""


class DeliveryFailed(NotificationError):  # noqa: N818 (named for what happened)
    """A transient failure: the delivery is retried with backoff."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Undeliverable(NotificationError):  # noqa: N818
    """The delivery can never succeed (no template, customer gone, subscription deleted): it goes dead."""


@dataclass(frozen=True, slots=True)
class WebhookCall:
    """One signed POST to a subscription's URL."""

    url: str
    subscription_id: int
    delivery_id: int
    event_type: str
    body: bytes
    timestamp: int


@dataclass(frozen=True, slots=True)
class CustomerMessage:
    """A rendered message for one customer on one channel."""

    delivery_id: int
    channel: str
    recipient: str
    language: str
    event_type: str
    subject: str
    body: str


class WebhookPoster(Protocol):
    def post(self, call: WebhookCall) -> int:
        """POST the call; return the 2xx status or raise DeliveryFailed."""
        ...


class MessageSender(Protocol):
    def send(self, message: CustomerMessage) -> None:
        """Hand the message to the channel; raise DeliveryFailed or Undeliverable."""
        ...


def signed_headers(call: WebhookCall, webhook_key: str) -> dict[str, str]:
    """The headers of a webhook POST, signed with the subscription's derived secret."""
    secret = subscription_secret(webhook_key, call.subscription_id)
    return {
        "Content-Type": "application/json",
        "User-Agent": "pitcall-webhooks/1",
        "X-Pitcall-Event": call.event_type,
        "X-Pitcall-Delivery": str(call.delivery_id),
        "X-Pitcall-Timestamp": str(call.timestamp),
        "X-Pitcall-Signature": signature(secret, call.timestamp, call.body),
    }


class HttpWebhookPoster:
    """POST signed JSON with a short timeout; redirects are not followed (the URL is what was registered)."""

    def __init__(self, webhook_key: str, *, timeout_s: float = 5.0) -> None:
        self._key = webhook_key
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def post(self, call: WebhookCall) -> int:
        """POST the call; return the 2xx status or raise DeliveryFailed with the status and reason."""
        try:
            response = self._client.post(call.url, content=call.body, headers=signed_headers(call, self._key))
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise DeliveryFailed(f"HTTP {response.status_code}: {response.text[:200]}", status=response.status_code)
        return response.status_code

    def close(self) -> None:
        self._client.close()


@dataclass
class LoggingSender:
    """The default message adapter: log the rendered message (no network) and keep the last ones."""

    channel: str
    sent: deque[CustomerMessage] = field(default_factory=lambda: deque(maxlen=1000))

    def send(self, message: CustomerMessage) -> None:
        """Log the message as it would be sent."""
        self.sent.append(message)
        log.info(
            "customer message",
            extra={
                "channel": message.channel,
                "recipient": message.recipient,
                "language": message.language,
                "event_type": message.event_type,
                "delivery_id": message.delivery_id,
                "subject": message.subject,
                "body": message.body,
            },
        )


@dataclass(frozen=True)
class Adapters:
    """The adapters a delivery run uses: one webhook poster and one sender per customer channel."""

    webhook: WebhookPoster
    messages: Mapping[str, MessageSender]
    public_url: str | None = None  # survey links in customer messages


def load_sender(spec: str, channel: str) -> MessageSender:
    """Build a sender from a setting: `log`, or `package.module:factory` called with the channel name."""
    if spec == "log":
        return LoggingSender(channel)
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise ValueError(f"adapter {spec!r} for {channel} must be 'log' or 'package.module:factory'")
    factory: Callable[[str], MessageSender] = getattr(importlib.import_module(module_name), attribute)
    return factory(channel)


def build_adapters(
    *, webhook_key: str, timeout_s: float, senders: Mapping[str, str], public_url: str | None = None
) -> Adapters:
    """Build the adapters from settings values (`senders` maps channel to a sender spec)."""
    messages = {channel: load_sender(senders.get(channel, "log"), channel) for channel in MESSAGE_CHANNELS}
    return Adapters(
        webhook=HttpWebhookPoster(webhook_key, timeout_s=timeout_s), messages=messages, public_url=public_url
    )
