"""Settings of the pitcall command-line tools (environment prefix PITCALL_)."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from store.db import DEFAULT_DATABASE_URL


class ToolSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PITCALL_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
