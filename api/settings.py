"""Settings of the API process (environment prefix PITCALL_API_)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from store.db import DEFAULT_DATABASE_URL

DEV_JWT_SECRET = "pitcall-dev-jwt-secret-change-me-0000000000"
DEV_WEBHOOK_KEY = "pitcall-dev-webhook-key-change-me-000000000"


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PITCALL_API_", extra="ignore", populate_by_name=True)

    environment: Literal["development", "production"] = Field(
        "development", validation_alias=AliasChoices("PITCALL_API_ENVIRONMENT", "PITCALL_ENVIRONMENT")
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

    @model_validator(mode="after")
    def _refuse_development_defaults(self) -> ApiSettings:
        if self.environment == "development":
            return self
        for name, value, default in (
            ("PITCALL_API_JWT_SECRET", self.jwt_secret, DEV_JWT_SECRET),
            ("PITCALL_API_WEBHOOK_KEY", self.webhook_key, DEV_WEBHOOK_KEY),
        ):
            secret = value.get_secret_value()
            if secret == default or len(secret) < 32:
                raise ValueError(f"{name} must be set to a random secret of at least 32 characters outside development")
        return self
