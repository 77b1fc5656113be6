"""Settings refuse development defaults outside development."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from ingest.settings import IngestSettings


def test_development_defaults_are_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="INGEST_MQTT_PASSWORD must be set"):
        IngestSettings()
    monkeypatch.setenv("INGEST_MQTT_PASSWORD", "")
    with pytest.raises(ValidationError, match="INGEST_MQTT_PASSWORD must be set"):
        IngestSettings()
    monkeypatch.setenv("INGEST_MQTT_PASSWORD", "a-real-secret")
    assert IngestSettings().mqtt_password.get_secret_value() == "a-real-secret"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PITCALL_DATABASE_URL", "postgresql://db.example/pitcall")
    monkeypatch.setenv("INGEST_MAX_SAMPLE_AGE", "P7D")
    monkeypatch.setenv("INGEST_BATCH_MAX_MESSAGES", "50")
    settings = IngestSettings()
    assert settings.database_url == "postgresql://db.example/pitcall"
    assert settings.max_sample_age == timedelta(days=7)
    assert settings.batch_max_messages == 50
    assert settings.environment == "development"
