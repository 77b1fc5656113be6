"""Settings of the ingest process (environment prefix INGEST_)."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from store.db import DEFAULT_DATABASE_URL
from wire import DEFAULT_PREFIX

DEV_PASSWORD = "pitcall-dev"


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")

    environment: Literal["development", "production"] = Field(
        "development", validation_alias=AliasChoices("INGEST_ENVIRONMENT", "PITCALL_ENVIRONMENT")
    )
    database_url: str = Field(
        DEFAULT_DATABASE_URL, validation_alias=AliasChoices("INGEST_DATABASE_URL", "PITCALL_DATABASE_URL")
    )
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str | None = "pitcall-ingest"
    mqtt_password: SecretStr = SecretStr(DEV_PASSWORD)
    mqtt_tls: bool = False
    mqtt_ca_file: str | None = None
    client_id: str = Field(default_factory=lambda: f"pitcall-ingest-{socket.gethostname()}")
    share_group: str = "pitcall-ingest"
    topic_prefix: str = DEFAULT_PREFIX
    receive_maximum: int = Field(2000, ge=1, le=65535)
    max_held_messages: int = Field(
        2000, ge=1, description="messages held in memory (inbox + batch being written), whatever the broker sends"
    )
    canary_interval_s: float = Field(60.0, ge=0, description="share-group canary rounds (0: off)")
    canary_timeout_s: float = Field(10.0, gt=0, description="how long a round waits for the echoes")
    canary_count: int = Field(16, ge=1, le=1000, description="canaries per kind and round")
    end_to_end_acks: bool = Field(True, description="confirm committed seqs to each device on its ack topic")
    batch_max_messages: int = Field(500, ge=1)
    batch_max_wait_s: float = Field(0.2, gt=0)
    dead_letter_max_kib: int = Field(16, ge=0, description="payload bytes kept per dead letter, in KiB")
    dead_letters_per_device_per_min: int = Field(
        60, ge=1, description="dead letters kept per device and minute; the rest are counted and summarised"
    )
    dead_letter_summary_s: float = Field(
        60.0, gt=0, description="how often a device's uncounted dead letters are summarised"
    )
    max_sample_age: timedelta = timedelta(days=30)
    max_future: timedelta = timedelta(minutes=5)
    device_refresh_s: float = Field(30.0, gt=0)
    retry_initial_s: float = Field(0.5, gt=0)
    retry_max_s: float = Field(30.0, gt=0)
    drain_timeout_s: float = Field(30.0, ge=0)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(9108, ge=0, le=65535, description="0 turns the /metrics endpoint off")
    pool_size: int = Field(2, ge=1)

    @model_validator(mode="after")
    def _refuse_development_defaults(self) -> IngestSettings:
        if self.environment != "development" and self.mqtt_password.get_secret_value() in ("", DEV_PASSWORD):
            raise ValueError("INGEST_MQTT_PASSWORD must be set to a real secret outside development")
        return self
