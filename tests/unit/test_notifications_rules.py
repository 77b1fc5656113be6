"""Who receives an event, how webhooks are signed, and when failed deliveries are retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.notifications.rules import (
    CustomerContact,
    RetryPolicy,
    Subscription,
    after_attempt,
    backoff,
    customer_recipient,
    event_matches,
    signature,
    signature_valid,
    subscription_secret,
    subscription_wants,
    valid_pattern,
)
from store.outbox import EVENT_TYPES

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("patterns", "event_type", "wanted"),
    [
        (["*"], "survey.answered", True),
        (["alert.*"], "alert.raised", True),
        (["alert.*"], "booking.confirmed", False),
        (["booking.confirmed"], "booking.confirmed", True),
        (["booking.confirmed"], "booking.cancelled", False),
        (["work_order.*", "survey.answered"], "work_order.closed", True),
        (["alert"], "alert.raised", False),
    ],
)
def test_event_patterns(patterns: list[str], event_type: str, wanted: bool) -> None:
    assert event_matches(patterns, event_type) is wanted


def test_only_known_patterns_are_valid() -> None:
    assert valid_pattern("*", EVENT_TYPES)
    assert valid_pattern("work_order.*", EVENT_TYPES)
    assert valid_pattern("alert.raised", EVENT_TYPES)
    assert not valid_pattern("alert.exploded", EVENT_TYPES)
    assert not valid_pattern("invoice.*", EVENT_TYPES)


def test_store_subscription_never_sees_another_store_and_group_subscription_sees_its_group() -> None:
    store_a = Subscription(id=1, group_id=10, store_id=100, event_types=("*",))
    group = Subscription(id=2, group_id=10, store_id=None, event_types=("alert.*",))
    assert subscription_wants(store_a, event_type="alert.raised", store_id=100, group_id=10)
    assert not subscription_wants(store_a, event_type="alert.raised", store_id=101, group_id=10)
    assert subscription_wants(group, event_type="alert.raised", store_id=101, group_id=10)
    assert not subscription_wants(group, event_type="alert.raised", store_id=900, group_id=20)
    assert not subscription_wants(group, event_type="booking.confirmed", store_id=101, group_id=10)


def _contact(channel: str = "sms", consent: bool = True) -> CustomerContact:
    return CustomerContact(channel, consent, phone="13800000001", email="li@example.com", wechat_id=None)


def test_customer_gets_messages_on_their_preferred_channel() -> None:
    assert customer_recipient("booking.confirmed", _contact("sms")) == ("sms", "13800000001")
    assert customer_recipient("survey.sent", _contact("email")) == ("email", "li@example.com")
    assert customer_recipient("booking.proposed", _contact("phone")) is None  # the advisor calls
    assert customer_recipient("booking.proposed", _contact("wechat")) is None  # no WeChat id on file
    assert customer_recipient("work_order.closed", _contact("sms")) is None  # not customer-facing


def test_proactive_alert_message_needs_consent_but_a_booking_confirmation_does_not() -> None:
    assert customer_recipient("alert.raised", _contact(consent=True)) == ("sms", "13800000001")
    assert customer_recipient("alert.raised", _contact(consent=False)) is None
    assert customer_recipient("booking.confirmed", _contact(consent=False)) == ("sms", "13800000001")


def test_secret_is_derived_per_subscription_and_signature_verifies() -> None:
    secret = subscription_secret("server-key", 7)
    assert secret == subscription_secret("server-key", 7)
    assert secret != subscription_secret("server-key", 8)
    assert secret != subscription_secret("other-key", 7)
    body = b'{"event":"alert.raised"}'
    header = signature(secret, 1764489600, body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert signature_valid(secret, "1764489600", body, header)
    assert not signature_valid(secret, "1764489601", body, header)  # replayed with another timestamp
    assert not signature_valid(secret, "1764489600", body + b" ", header)
    assert not signature_valid(secret, "not-a-number", body, header)


def test_backoff_grows_exponentially_within_jitter_and_is_capped() -> None:
    policy = RetryPolicy(base=timedelta(seconds=30), cap=timedelta(hours=1))
    for attempts in range(1, 8):
        ceiling = min(timedelta(hours=1), timedelta(seconds=30) * 2 ** (attempts - 1))
        delay = backoff(policy, attempts, delivery_id=42)
        assert ceiling / 2 <= delay <= ceiling
    assert backoff(policy, 30, delivery_id=42) <= timedelta(hours=1)
    assert backoff(policy, 10_000, delivery_id=42) <= timedelta(hours=1)


def test_backoff_jitter_is_deterministic_and_spreads_deliveries() -> None:
    policy = RetryPolicy()
    assert backoff(policy, 3, delivery_id=5) == backoff(policy, 3, delivery_id=5)
    assert len({backoff(policy, 3, delivery_id=i) for i in range(20)}) > 10


def test_a_delivery_dies_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    retry = after_attempt(policy, ok=False, attempts=2, delivery_id=1, now=NOW)
    assert retry.state == "pending" and retry.next_attempt_at > NOW
    assert after_attempt(policy, ok=False, attempts=3, delivery_id=1, now=NOW).state == "dead"
    done = after_attempt(policy, ok=True, attempts=3, delivery_id=1, now=NOW)
    assert (done.state, done.delivered_at) == ("delivered", NOW)
