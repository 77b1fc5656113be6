"""Settings of the edge agent: a TOML file (`--config`) and AGENT_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from wire import DEFAULT_PREFIX


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AGENT_", extra="forbid")

    device_id: str
    device_secret: SecretStr | None = None
    vin: str | None = Field(None, description="used when the car does not report a valid VIN")
    adapter_port: str = Field("/dev/rfcomm0", description="serial device, RFCOMM device, pty or socket://host:port")
    adapter_baudrate: int | None = Field(None, description="needed for socket:// adapters (no auto-detection)")
    adapter_timeout_s: float = 2.0
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_tls: bool = False
    mqtt_ca_file: str | None = None
    topic_prefix: str = DEFAULT_PREFIX
    buffer_path: Path = Path("/var/lib/pitcall-agent/queue.db")
    buffer_max_bytes: int = 128 * 1024 * 1024
    sample_interval_s: float = Field(1.0, gt=0)
    dtc_interval_s: float = Field(300.0, gt=0)
    parked_voltage_interval_s: float = Field(1800.0, gt=0, description="resting-voltage sample while parked")
    parked_poll_s: float = Field(0.5, gt=0, description="battery polls while parked, to catch a crank")
    car_probe_s: float = Field(30.0, gt=0, description="while parked, look for the car's ECU this often")
    crank_capture_s: float = Field(3.0, ge=0, description="fast battery sampling at an engine start")
    monitor_delay_s: float = Field(300.0, ge=0, description="Mode 06 misfire monitors this long into each trip")
    max_samples_per_message: int = Field(100, ge=1, le=1000)
    backlog_messages_per_s: float = Field(30.0, gt=0, description="replay rate limit (x max_samples_per_message)")
    reconnect_max_s: float = 60.0
    ack_mode: Literal["end_to_end", "broker"] = Field(
        "end_to_end",
        description="delete queued data on ingest's ack once stored (end_to_end) or on the broker's PUBACK (broker)",
    )
    ack_timeout_s: float = Field(120.0, gt=0, description="re-send what is not acknowledged after this long")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = init_settings.init_kwargs.pop("_config_file", None)  # type: ignore[attr-defined]
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


def load_settings(config_file: Path | None = None) -> AgentSettings:
    """Read settings from the environment, then the TOML file (environment wins)."""
    return AgentSettings(_config_file=config_file)  # type: ignore[call-arg]
