"""Settings of the notifier process (environment prefix PITCALL_NOTIFY_)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api.notifications.egress import EgressPolicy, parse_network
from api.notifications.rules import RetryPolicy
from api.settings import DEV_WEBHOOK_KEY
from store.db import DEFAULT_DATABASE_URL

SENDER_HELP = "'log' (log the message, no network) or 'package.module:factory' called with the channel name"


class NotifierSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PITCALL_NOTIFY_", extra="ignore", populate_by_name=True)

    environment: Literal["development", "production"] = Field(
        "development", validation_alias=AliasChoices("PITCALL_NOTIFY_ENVIRONMENT", "PITCALL_ENVIRONMENT")
    )
    database_url: str = Field(
        DEFAULT_DATABASE_URL, validation_alias=AliasChoices("PITCALL_NOTIFY_DATABASE_URL", "PITCALL_DATABASE_URL")
    )
    webhook_key: SecretStr = Field(
        SecretStr(DEV_WEBHOOK_KEY),
        validation_alias=AliasChoices("PITCALL_NOTIFY_WEBHOOK_KEY", "PITCALL_API_WEBHOOK_KEY"),
        description="the API's webhook key: subscription secrets are derived from it",
    )
    public_url: str | None = Field(
        None,
        description="base URL where customers reach pitcall (survey links in messages); unset: reply-by-SMS wording",
    )
    interval_s: float = Field(1.0, gt=0, description="pause between dispatch-and-deliver rounds when idle")
    batch_size: int = Field(20, ge=1, le=500, description="deliveries claimed per round")
    max_attempts: int = Field(8, ge=1, le=50, description="attempts before a delivery is dead")
    backoff_base_s: float = Field(30.0, gt=0)
    backoff_cap_s: float = Field(6 * 3600.0, gt=0)
    http_timeout_s: float = Field(5.0, gt=0, le=60)
    webhook_allowed_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated CIDR networks webhooks may reach besides public addresses "
        "(e.g. '10.20.0.0/16,fd00:1::/64'); in development any address is allowed",
    )
    claim_lease_s: float = Field(300.0, gt=0, description="a claimed delivery is retried if not recorded by then")
    sms_adapter: str = Field("log", description=SENDER_HELP)
    email_adapter: str = Field("log", description=SENDER_HELP)
    wechat_adapter: str = Field("log", description=SENDER_HELP)

    @field_validator("webhook_allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        """The environment gives one string: `10.20.0.0/16, fd00:1::/64` (empty entries ignored)."""
        if isinstance(value, str):
            return [entry.strip() for entry in value.split(",") if entry.strip()]
        return value

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        """Each entry must be a network (checked at start-up, so a typo does not surface at the first webhook)."""
        return [str(parse_network(entry)) for entry in value]

    @model_validator(mode="after")
    def _check(self) -> NotifierSettings:
        if self.claim_lease_s <= self.batch_size * self.http_timeout_s:
            raise ValueError("claim_lease_s must exceed batch_size * http_timeout_s (or a slow batch is sent twice)")
        secret = self.webhook_key.get_secret_value()
        if self.environment != "development" and (secret == DEV_WEBHOOK_KEY or len(secret) < 32):
            raise ValueError("PITCALL_NOTIFY_WEBHOOK_KEY must be the API's random webhook key outside development")
        return self

    @property
    def policy(self) -> RetryPolicy:
        """The retry policy these settings describe."""
        return RetryPolicy(
            max_attempts=self.max_attempts,
            base=timedelta(seconds=self.backoff_base_s),
            cap=timedelta(seconds=self.backoff_cap_s),
            lease=timedelta(seconds=self.claim_lease_s),
        )

    @property
    def egress(self) -> EgressPolicy:
        """Where webhooks may go: public addresses and the listed networks; anywhere in development."""
        return EgressPolicy.of(self.webhook_allowed_networks, allow_any=self.environment == "development")

    @property
    def senders(self) -> dict[str, str]:
        """The sender spec of each customer channel."""
        return {"sms": self.sms_adapter, "email": self.email_adapter, "wechat": self.wechat_adapter}
