"""Alert review through the API against a real database: queue order, detail, acknowledge, dismiss."""

from __future__ import annotations

from api.tenancy import Role
from predict.catalog import FailureMode
from predict.dtc_kb import Severity
from store.db import make_engine
from tests.api_world import World, raise_test_alert


def test_log_in_and_me(world: World) -> None:
    me = world.call("GET", "/api/v1/me", role=Role.SERVICE_ADVISOR, store="B").json()
    assert me["role"] == "service_advisor"
    assert me["store_ids"] == [world.stores["B"].store_id]
    wrong = world.app_client.post("/api/v1/auth/token", data={"username": "service_advisor_b", "password": "nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "unauthorized"
    assert world.app_client.get("/api/v1/me").status_code == 401
    assert world.app_client.get("/api/v1/me", headers={"Authorization": "Bearer forged.jwt.value"}).status_code == 401


def test_queue_is_most_urgent_first_and_pages(world: World, db_url: str) -> None:
    a = world.stores["A"]
    engine = make_engine(db_url)
    with engine.begin() as conn:
        critical = raise_test_alert(conn, store_id=a.store_id, vehicle_id=a.vehicle_id, mode=FailureMode.OVERHEATING,
                                    severity=Severity.CRITICAL, days_to_failure=20)  # fmt: skip
        soon = raise_test_alert(conn, store_id=a.store_id, vehicle_id=a.vehicle_id, mode=FailureMode.MISFIRE,
                                severity=Severity.WARNING, days_to_failure=3)  # fmt: skip
    engine.dispose()
    first = world.call("GET", "/api/v1/alerts", params={"limit": 2}).json()
    assert [x["id"] for x in first["items"]] == [critical, soon]
    rest = world.call("GET", "/api/v1/alerts", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [x["id"] for x in rest["items"]] == [a.alert_id]
    assert rest["next_cursor"] is None
    only = world.call("GET", "/api/v1/alerts", params={"mode": "misfire"}).json()["items"]
    assert [x["id"] for x in only] == [soon]


def test_acknowledge_then_dismiss_keeps_history_and_refuses_invalid(world: World) -> None:
    alert_id = world.stores["A"].alert_id
    acked = world.call("POST", f"/api/v1/alerts/{alert_id}/acknowledge", role=Role.SERVICE_ADVISOR)
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acknowledged"
    again = world.call("POST", f"/api/v1/alerts/{alert_id}/acknowledge")
    assert again.status_code == 409
    assert set(again.json()["error"]["details"]["allowed"]) == {"booked", "dismissed", "resolved"}
    assert world.call("POST", f"/api/v1/alerts/{alert_id}/dismiss", json={"reason": ""}).status_code == 422
    done = world.call("POST", f"/api/v1/alerts/{alert_id}/dismiss", json={"reason": "sold the car"}).json()
    assert done["state"] == "dismissed"
    assert [t["to_state"] for t in done["transitions"]] == ["open", "acknowledged", "dismissed"]
    assert done["transitions"][-1]["actor"] == "user:service_manager_a"


def test_technician_and_integration_cannot_dismiss(world: World) -> None:
    alert_id = world.stores["A"].alert_id
    for role in (Role.TECHNICIAN, Role.INTEGRATION):
        response = world.call("POST", f"/api/v1/alerts/{alert_id}/dismiss", role=role, json={"reason": "no"})
        assert response.status_code == 403, role


def test_detail_has_evidence_customer_and_operation(world: World) -> None:
    a = world.stores["A"]
    detail = world.call("GET", f"/api/v1/alerts/{a.alert_id}", role=Role.INTEGRATION).json()
    assert detail["vin"] == a.vin
    assert detail["evidence"]["threshold"] == 2.0
    assert detail["customer"]["consent_proactive_contact"] is True
    assert detail["recommended_operation"]["op_code"] == "BAT-TEST-REPLACE"
    assert detail["recommended_operation"]["parts"] == [{"part_no": "BAT-12V-60AH", "qty": 1}]


def test_console_session_cookie_authenticates_and_logs_out(world: World) -> None:
    client = world.app_client
    opened = client.post(
        "/api/v1/auth/session", data={"username": "service_advisor_a", "password": "correct horse battery"}
    )
    assert opened.status_code == 200
    cookie = opened.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get("/api/v1/me").json()["name"] == "service_advisor_a"
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/me").status_code == 401
