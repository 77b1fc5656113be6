"""Agent settings: the TOML file, overridden by AGENT_* variables; the example config is valid."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from edge_agent.settings import load_settings

EXAMPLE = Path(__file__).parents[2] / "deploy" / "edge" / "pitcall-agent.toml.example"


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('device_id = "dongle-1"\nadapter_port = "/dev/ttyUSB0"\nmqtt_port = 8883\n')
    monkeypatch.setenv("AGENT_MQTT_PORT", "1999")
    settings = load_settings(config)
    assert (settings.device_id, settings.adapter_port, settings.mqtt_port) == ("dongle-1", "/dev/ttyUSB0", 1999)
    assert settings.sample_interval_s == 1.0 and settings.parked_voltage_interval_s == 1800


def test_the_shipped_example_is_valid() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.mqtt_tls and settings.buffer_max_bytes == 128 * 1024 * 1024


def test_unknown_keys_and_missing_device_id_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('device_id = "d"\nsample_intervall_s = 2\n')
    with pytest.raises(ValidationError, match="sample_intervall_s"):
        load_settings(config)
    config.write_text('adapter_port = "/dev/ttyUSB0"\n')
    with pytest.raises(ValidationError, match="device_id"):
        load_settings(config)
