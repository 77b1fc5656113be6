"""Pure rules of notification delivery: who gets an event, how it is signed, when it is retried.

No I/O here; dispatch.py and delivery.py apply these to database rows.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

CUSTOMER_EVENTS = frozenset({"booking.confirmed", "booking.proposed", "survey.sent", "alert.raised"})
PROACTIVE_EVENTS = frozenset({"alert.raised"})  # sent only to customers who consented to proactive contact
MESSAGE_CHANNELS = ("sms", "email", "wechat")


def event_matches(patterns: Iterable[str], event_type: str) -> bool:
    """Tell whether a subscription's patterns (`*`, `alert.*` or exact types) select `event_type`."""
    subject = event_type.split(".", 1)[0]
    return any(p == "*" or p == event_type or p == f"{subject}.*" for p in patterns)


@dataclass(frozen=True, slots=True)
class Subscription:
    """The part of a webhook subscription that decides which events it receives."""

    id: int
    group_id: int
    store_id: int | None  # None: every store of the group
    event_types: tuple[str, ...]


def subscription_wants(sub: Subscription, *, event_type: str, store_id: int, group_id: int) -> bool:
    """Tell whether a subscription receives an event of `store_id` (in `group_id`)."""
    in_reach = sub.store_id == store_id if sub.store_id is not None else sub.group_id == group_id
    return in_reach and event_matches(sub.event_types, event_type)


def valid_pattern(pattern: str, known: Iterable[str]) -> bool:
    """Tell whether `pattern` is `*`, a known event type or `<subject>.*` of a known subject."""
    known = set(known)
    subjects = {t.split(".", 1)[0] for t in known}
    return pattern == "*" or pattern in known or (pattern.endswith(".*") and pattern[:-2] in subjects)


@dataclass(frozen=True, slots=True)
class CustomerContact:
    """What a customer agreed to and how they can be reached."""

    preferred_channel: str
    consent_proactive_contact: bool
    phone: str | None
    email: str | None
    wechat_id: str | None


def customer_recipient(event_type: str, contact: CustomerContact) -> tuple[str, str] | None:
    """Return the (channel, address) a customer-facing event goes to, or None when nothing is sent.

    Nothing is sent for events that are not customer-facing, for a proactive event without consent,
    for customers who prefer a phone call (the advisor calls), or when the preferred address is missing.
    """
    if event_type not in CUSTOMER_EVENTS:
        return None
    if event_type in PROACTIVE_EVENTS and not contact.consent_proactive_contact:
        return None
    address = {"sms": contact.phone, "email": contact.email, "wechat": contact.wechat_id}.get(contact.preferred_channel)
    if not address:
        return None
    return contact.preferred_channel, address


def subscription_secret(webhook_key: str, subscription_id: int) -> str:
    """Derive a subscription's signing secret from the server's key (never stored)."""
    return hmac.new(webhook_key.encode(), f"webhook:{subscription_id}".encode(), hashlib.sha256).hexdigest()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Sign a webhook body: `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_valid(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """Check a received signature in constant time (what a receiver does)."""
    try:
        expected = signature(secret, int(timestamp), body)
    except ValueError:
        return False
    return hmac.compare_digest(expected, header)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long a failing delivery is retried."""

    max_attempts: int = 8
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=6)
    lease: timedelta = timedelta(seconds=60)  # how long a claimed delivery is hidden from other workers


def backoff(policy: RetryPolicy, attempts: int, delivery_id: int) -> timedelta:
    """Delay before the next try after `attempts` failures: exponential, capped, with deterministic jitter.

    The delay is between half and all of min(cap, base * 2**(attempts-1)); the jitter comes from the
    delivery id and attempt, so retries of many deliveries spread out but each one is reproducible.
    """
    doublings = min(max(attempts - 1, 0), 40)  # 2**40 * base already exceeds any sensible cap
    ceiling = min(policy.cap, policy.base * (1 << doublings))
    seed = hashlib.sha256(f"{delivery_id}:{attempts}".encode()).digest()
    fraction = int.from_bytes(seed[:4], "big") / 2**32
    return ceiling * (0.5 + 0.5 * fraction)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to store after one attempt."""

    state: str
    next_attempt_at: datetime
    delivered_at: datetime | None


def after_attempt(policy: RetryPolicy, *, ok: bool, attempts: int, delivery_id: int, now: datetime) -> Outcome:
    """Decide the delivery's state after attempt number `attempts` succeeded or failed."""
    if ok:
        return Outcome("delivered", now, now)
    if attempts >= policy.max_attempts:
        return Outcome("dead", now, None)
    return Outcome("pending", now + backoff(policy, attempts, delivery_id), None)
