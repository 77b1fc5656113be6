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

from api.notifications.egress import EgressPolicy, IPAddress, ResolutionFailed, resolve
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
    """POST signed JSON with a short timeout; redirects are not followed (the URL is what was registered).

    Every POST passes the egress guard: the URL's host is resolved, and if the policy refuses any of its
    addresses the delivery is `Undeliverable`. Otherwise the request goes to a checked address (the
    host is not resolved again, so a DNS answer changed in between cannot redirect it), with the
    original `Host` header and, for https, the host name as TLS server name (certificate verified
    against it). Connections are not kept alive: a pooled connection belongs to an IP address, and
    must not carry a request for another host name served from it.
    """

    def __init__(
        self,
        webhook_key: str,
        *,
        timeout_s: float = 5.0,
        egress: EgressPolicy,
        resolver: Callable[[str, int], list[IPAddress]] = resolve,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._key = webhook_key
        self._egress = egress
        self._resolve = resolver
        self._client = httpx.Client(
            timeout=timeout_s,
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
            transport=transport,
        )

    def post(self, call: WebhookCall) -> int:
        """POST the call; return the 2xx status or raise DeliveryFailed with the status and reason.

        Raises Undeliverable if the URL is unusable or the egress policy refuses one of its addresses."""
        url, host, addresses = self._checked_target(call.url)
        headers = {**signed_headers(call, self._key), "Host": url.netloc.decode("ascii")}
        extensions = {"sni_hostname": host} if url.scheme == "https" else {}
        for index, address in enumerate(addresses, start=1):
            try:
                response = self._client.post(
                    url.copy_with(host=str(address)), content=call.body, headers=headers, extensions=extensions
                )
            except httpx.ConnectError as exc:
                if index < len(addresses):
                    continue  # nothing was sent: try the host's next address
                raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
            except httpx.HTTPError as exc:
                raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
            if not response.is_success:
                raise DeliveryFailed(f"HTTP {response.status_code}: {response.text[:200]}", status=response.status_code)
            return response.status_code
        raise DeliveryFailed(f"{host} has no address")

    def _checked_target(self, raw_url: str) -> tuple[httpx.URL, str, list[IPAddress]]:
        """The parsed URL, its host name (ASCII) and its addresses, all allowed by the egress policy."""
        try:
            url = httpx.URL(raw_url)
        except httpx.InvalidURL as exc:
            raise Undeliverable(f"invalid webhook URL: {exc}") from exc
        if url.scheme not in ("http", "https") or not url.raw_host:
            raise Undeliverable("invalid webhook URL: an http(s) URL with a host is required")
        host = url.raw_host.decode("ascii")
        try:
            addresses = self._resolve(host, url.port or (443 if url.scheme == "https" else 80))
        except ResolutionFailed as exc:
            raise DeliveryFailed(str(exc)) from exc
        for address in addresses:
            reason = self._egress.refusal(address)
            if reason is not None:
                raise Undeliverable(f"webhook to {host} refused by the egress guard: {reason}")
        return url, host, addresses

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
    *,
    webhook_key: str,
    timeout_s: float,
    senders: Mapping[str, str],
    egress: EgressPolicy,
    public_url: str | None = None,
) -> Adapters:
    """Build the adapters from settings values (`senders` maps channel to a sender spec; `egress` is
    where webhooks may go)."""
    messages = {channel: load_sender(senders.get(channel, "log"), channel) for channel in MESSAGE_CHANNELS}
    return Adapters(
        webhook=HttpWebhookPoster(webhook_key, timeout_s=timeout_s, egress=egress),
        messages=messages,
        public_url=public_url,
    )
