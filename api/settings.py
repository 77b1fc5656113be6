"""Settings of the API process (environment prefix PITCALL_API_).

Safe by default: the environment is `production` unless development is asked for, and production
refuses to start with the published development secrets or short ones. The development JWT secret is
refused in any environment when the API listens beyond loopback (anyone could sign a token with it).
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.auth.throttle import Backoff, LoginPolicy
from store.db import DEFAULT_DATABASE_URL

DEV_JWT_SECRET = "pitcall-dev-jwt-secret-change-me-0000000000"
DEV_WEBHOOK_KEY = "pitcall-dev-webhook-key-change-me-000000000"
Exposure = Literal["public", "private", "off"]


def is_loopback(host: str) -> bool:
    """Tell whether `host` (an address or a name) only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PITCALL_API_", extra="ignore", populate_by_name=True)

    environment: Literal["development", "production"] = Field(
        "production", validation_alias=AliasChoices("PITCALL_API_ENVIRONMENT", "PITCALL_ENVIRONMENT")
    )
    database_url: str = Field(
        DEFAULT_DATABASE_URL, validation_alias=AliasChoices("PITCALL_API_DATABASE_URL", "PITCALL_DATABASE_URL")
    )
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    token_minutes: int = Field(15, ge=1, le=24 * 60, description="lifetime of a person's access token")
    webhook_key: SecretStr = SecretStr(DEV_WEBHOOK_KEY)
    pool_size: int = Field(10, ge=1)
    page_size_max: int = Field(200, ge=1)
    event_poll_s: float = Field(1.0, gt=0, description="how often the alert stream looks for new alerts")
    max_body_size: int = Field(1024 * 1024, ge=1024, description="larger request bodies get 413 unread")
    docs: Exposure | None = Field(None, description="/docs, /redoc, /openapi.json; default public in development")
    metrics: Exposure | None = Field(None, description="/metrics; default public in development")
    metrics_token: SecretStr | None = Field(None, description="bearer token that reads a private /metrics")
    login_free_failures: int = Field(5, ge=1, description="failed log-ins in a row an account has before backoff")
    login_address_free_failures: int = Field(20, ge=1, description="the same per client address")
    login_backoff_s: float = Field(1.0, gt=0, description="the first lock; each further failure doubles it")
    login_backoff_max_s: float = Field(900.0, gt=0, description="the longest lock")
    login_window_s: float = Field(3600.0, gt=0, description="failures older than this are forgotten")
    hash_concurrency: int = Field(2, ge=1, description="argon2 hashes at once per process (64 MiB each)")
    hash_wait_s: float = Field(2.0, gt=0, description="how long a log-in waits for a hashing slot (then 503)")
    forwarded_allow_ips: str | None = Field(
        None, description="proxies trusted for X-Forwarded-For (the client address the log-in throttle counts)"
    )

    @field_validator("metrics_token", "forwarded_allow_ips", "docs", "metrics", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> ApiSettings:
        if self.jwt_secret.get_secret_value() == DEV_JWT_SECRET and not is_loopback(self.host):
            raise ValueError(
                f"the development JWT secret is public: set PITCALL_API_JWT_SECRET to listen on {self.host}"
            )
        if self.login_window_s < self.login_backoff_max_s:
            raise ValueError("PITCALL_API_LOGIN_WINDOW_S must be at least PITCALL_API_LOGIN_BACKOFF_MAX_S")
        if self.environment == "development":
            return self
        for name, value, default in (
            ("PITCALL_API_JWT_SECRET", self.jwt_secret, DEV_JWT_SECRET),
            ("PITCALL_API_WEBHOOK_KEY", self.webhook_key, DEV_WEBHOOK_KEY),
        ):
            secret = value.get_secret_value()
            if secret == default or len(secret) < 32:
                raise ValueError(
                    f"{name} must be set to a random secret of at least 32 characters outside development"
                    " (PITCALL_API_ENVIRONMENT=development for a local try)"
                )
        if self.metrics_token is not None and len(self.metrics_token.get_secret_value()) < 32:
            raise ValueError("PITCALL_API_METRICS_TOKEN must be at least 32 characters")
        return self

    @property
    def docs_exposure(self) -> Exposure:
        return self.docs or ("public" if self.environment == "development" else "private")

    @property
    def metrics_exposure(self) -> Exposure:
        return self.metrics or ("public" if self.environment == "development" else "private")

    def login_policy(self) -> LoginPolicy:
        return LoginPolicy(
            account=Backoff(self.login_free_failures, self.login_backoff_s, self.login_backoff_max_s),
            address=Backoff(self.login_address_free_failures, self.login_backoff_s, self.login_backoff_max_s),
            window=timedelta(seconds=self.login_window_s),
        )
