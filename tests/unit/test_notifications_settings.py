"""The notifier's settings refuse configurations that would lose or duplicate messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from api.notifications.adapters import LoggingSender, load_sender
from api.notifications.settings import NotifierSettings


def test_development_defaults_work_and_give_the_retry_policy() -> None:
    settings = NotifierSettings()
    assert settings.policy.max_attempts == 8
    assert settings.policy.lease == timedelta(minutes=5)
    assert settings.senders == {"sms": "log", "email": "log", "wechat": "log"}


def test_production_refuses_the_development_webhook_key() -> None:
    with pytest.raises(ValidationError, match="WEBHOOK_KEY"):
        NotifierSettings(environment="production")
    NotifierSettings(environment="production", webhook_key="k" * 40)


def test_lease_must_outlast_a_batch_of_slow_receivers() -> None:
    with pytest.raises(ValidationError, match="claim_lease_s"):
        NotifierSettings(batch_size=100, http_timeout_s=5, claim_lease_s=60)


def test_senders_are_the_logging_adapter_or_a_factory_path() -> None:
    sender = load_sender("log", "sms")
    assert isinstance(sender, LoggingSender) and sender.channel == "sms"
    factory = load_sender("api.notifications.adapters:LoggingSender", "wechat")
    assert isinstance(factory, LoggingSender) and factory.channel == "wechat"
    with pytest.raises(ValueError, match=r"package\.module:factory"):
        load_sender("smtp", "email")
