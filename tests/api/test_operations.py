"""Operations routes: liveness, readiness against the real database, Prometheus metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from api.tenancy import Role
from tests.api_world import World


def test_health_ready_and_metrics(world: World) -> None:
    client = world.app_client
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["schema"] >= "0003"
    world.call("GET", "/api/v1/alerts", role=Role.SERVICE_ADVISOR)
    metrics = client.get("/metrics").text
    assert 'pitcall_api_requests_total{method="GET",route="/api/v1/alerts",status="200"}' in metrics
    assert "pitcall_api_request_seconds_bucket" in metrics


def test_readyz_says_unavailable_without_a_database() -> None:
    settings = ApiSettings(database_url="postgresql://postgres@127.0.0.1:1/none", environment="development")
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "unavailable"


def test_production_refuses_development_secrets() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="JWT_SECRET"):
        ApiSettings(environment="production")
    ok = ApiSettings(environment="production", jwt_secret="j" * 40, webhook_key="w" * 40)
    assert ok.environment == "production"
