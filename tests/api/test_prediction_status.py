"""The prediction status through the API: each store's budgeted thresholds and alert rate, live precision,
the hold of a mode and its watch list (real database, the lifecycle code prediction uses)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from api.tenancy import Role
from predict import alerts as lifecycle
from predict.catalog import CATALOG, FailureMode
from predict.dtc_kb import Severity
from store.db import make_engine
from store.tables import alerts, prediction_calibration
from tests.api_world import World

NOW = datetime.now(UTC)


def closed_alerts(
    db_url: str, *, store_id: int, vehicle_id: int, mode: FailureMode, confirmed: int, refuted: int
) -> None:
    """Alerts of model version 'test' the store has closed: found at fault, or not."""
    operation = CATALOG[mode].operation
    rows: list[dict[str, Any]] = [
        {"store_id": store_id, "vehicle_id": vehicle_id, "mode": mode.value, "state": "resolved", "severity": "warning",
         "confidence": 0.8, "observed_at": NOW - timedelta(days=40 - n),
         "first_observed_at": NOW - timedelta(days=40 - n),
         "evidence": {}, "operation": operation.op_code, "parts": list(operation.parts), "model_version": "test",
         "closed_at": NOW - timedelta(days=39 - n), "outcome": "confirmed" if n < confirmed else "not_found"}
        for n in range(confirmed + refuted)
    ]  # fmt: skip
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(insert(alerts), rows)
        conn.execute(insert(prediction_calibration).values(
            store_id=store_id, mode=mode.value, day=date(2026, 12, 5), model_version="test", threshold_z=7.25,
            model_threshold_z=3.54, budget_threshold_z=7.25, store_cars=42, fleet_cars=180,
            budget_per_1000_vm=2.0))  # fmt: skip
    engine.dispose()


def by_mode(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    modes = status["modes"]
    assert isinstance(modes, list)
    return {m["mode"]: m for m in modes}


def test_a_mode_refuted_again_and_again_is_held_and_says_why(world: World, db_url: str) -> None:
    a = world.stores["A"]
    closed_alerts(
        db_url, store_id=a.store_id, vehicle_id=a.vehicle_id, mode=FailureMode.MISFIRE, confirmed=2, refuted=9
    )
    response = world.call("GET", "/api/v1/prediction/status", role=Role.SERVICE_ADVISOR)
    assert response.status_code == 200, response.text
    status = response.json()
    assert status["store_id"] == a.store_id and status["model_version"] == "test"
    misfire, battery = by_mode(status)["misfire"], by_mode(status)["battery"]
    assert misfire["live_precision"] == {"confirmed": 2, "refuted": 9, "precision": 2 / 11}
    assert misfire["held"] is True and "0.18" in misfire["hold_reason"] and "watch list" in misfire["hold_reason"]
    assert misfire["threshold_z"] == 7.25 and misfire["model_threshold_z"] == 3.54
    assert misfire["calibration_cars"] == 42 and misfire["budget_per_1000_vm"] == 2.0
    assert battery["held"] is False and battery["threshold_z"] is None  # nothing scored for it yet
    assert battery["live_precision"]["precision"] is None
    # the world's one open battery alert of store A, raised today, in the last 30 days' rate
    assert battery["alerts_30d"] == 1 and battery["alert_rate_per_1000_vm"] > 0


def test_another_store_sees_only_its_own_status(world: World, db_url: str) -> None:
    a = world.stores["A"]
    closed_alerts(
        db_url, store_id=a.store_id, vehicle_id=a.vehicle_id, mode=FailureMode.MISFIRE, confirmed=0, refuted=3
    )
    b_status = world.call("GET", "/api/v1/prediction/status", store="B").json()
    assert b_status["store_id"] == world.stores["B"].store_id
    assert by_mode(b_status)["misfire"]["threshold_z"] is None  # store A's calibration is not B's
    refused = world.call("GET", "/api/v1/prediction/status", store="B", params={"store_id": a.store_id})
    assert refused.status_code == 404


def test_the_watch_list_is_not_the_queue_until_a_manager_takes_an_alert_in(world: World, db_url: str) -> None:
    a = world.stores["A"]
    operation = CATALOG[FailureMode.CATALYST].operation
    draft = lifecycle.AlertDraft(
        vehicle_id=a.vehicle_id, store_id=a.store_id, mode=FailureMode.CATALYST, severity=Severity.WARNING,
        confidence=0.3, observed_at=NOW - timedelta(hours=2), days_to_failure=20.0, evidence={},
        operation=operation.op_code, parts=operation.parts, model_version="test", held=True,
    )  # fmt: skip
    engine = make_engine(db_url)
    with engine.begin() as conn:
        watched = lifecycle.raise_alert(conn, draft).alert_id
    engine.dispose()
    queue = [x["id"] for x in world.call("GET", "/api/v1/alerts").json()["items"]]
    watch = [x["id"] for x in world.call("GET", "/api/v1/alerts", params={"state": "watch"}).json()["items"]]
    assert watched not in queue and watch == [watched]
    assert by_mode(world.call("GET", "/api/v1/prediction/status").json())["catalyst"]["watch_list"] == 1
    assert world.call("POST", f"/api/v1/alerts/{watched}/queue", role=Role.TECHNICIAN).status_code == 403
    taken = world.call("POST", f"/api/v1/alerts/{watched}/queue", json={"note": "customer reports smell"})
    assert taken.status_code == 200, taken.text
    assert [t["to_state"] for t in taken.json()["transitions"]] == ["watch", "open"]
    assert watched in [x["id"] for x in world.call("GET", "/api/v1/alerts").json()["items"]]
    again = world.call("POST", f"/api/v1/alerts/{watched}/queue")
    assert again.status_code == 409  # an open alert is in the queue already
