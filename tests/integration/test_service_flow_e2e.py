"""End to end: simulated cars → MQTT → ingest → TimescaleDB → prediction replay raises an alert → the
store books it through the API → work order check-in … closed with the part confirmed → the customer
answers the survey → prediction reads the confirmed label."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.app import create_app
from api.auth.service import create_user
from api.seed import seed_workshop
from api.settings import ApiSettings
from api.tenancy import Role
from pitcall.evaluate import through_ingest
from pitcall.local_services import Broker
from pitcall.settings import ToolSettings
from predict import alerts as lifecycle
from predict.model import shipped
from predict.service import replay
from simulators.bulk_load import register
from simulators.history import Cadence
from simulators.scenario import FleetPlan, build_fleet
from store.db import make_engine
from store.tables import alerts, customers, vehicles

PASSWORD = "service manager password"
STORE = "E2E-01"


def _login(client: TestClient, username: str) -> dict[str, str]:
    token = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def test_alert_to_booking_to_closed_work_order_to_survey_to_label(db_url: str, broker: Broker) -> None:
    plan = FleetPlan(seed=21, vehicles=6, start=datetime.now(UTC).date() - timedelta(days=46), days=45,
                     fault_share=1.0, prefix="e2e")  # fmt: skip
    cars = build_fleet(plan)
    register(db_url, cars, store_code=STORE, store_name="E2E store")
    engine = make_engine(db_url)
    stats = through_ingest(ToolSettings(database_url=db_url, mqtt_port=broker.port), db_url, plan,
                           Cadence(sample_every_s=60), 1, engine)  # fmt: skip
    assert stats.samples > 10_000
    replay(engine, first=plan.start, last=plan.start + timedelta(days=plan.days - 1), model=shipped())
    with engine.begin() as conn:
        workshop = seed_workshop(conn, group_name="ignored", store_code=STORE, store_name="E2E store")
        create_user(conn, username="manager_e2e", password=PASSWORD, role=Role.SERVICE_MANAGER,
                    group_id=workshop.group_id, store_id=workshop.store_id)  # fmt: skip
        alert = conn.execute(select(alerts).order_by(alerts.c.id)).first()
        assert alert is not None, "prediction raised no alert for a fleet where every car has a failing part"
        customer_id = conn.scalar(
            customers.insert()
            .values(store_id=workshop.store_id, name="张伟", phone="13900000001", consent_proactive_contact=True)
            .returning(customers.c.id)
        )
        conn.execute(update(vehicles).where(vehicles.c.id == alert.vehicle_id).values(customer_id=customer_id))

    with TestClient(create_app(ApiSettings(database_url=db_url, environment="development"))) as client:
        headers = _login(client, "manager_e2e")
        queue = _ok(client.get("/api/v1/alerts", headers=headers))["items"]
        assert alert.id in [a["id"] for a in queue]
        detail = _ok(client.get(f"/api/v1/alerts/{alert.id}", headers=headers))
        assert detail["evidence"] and detail["recommended_operation"]["op_code"] == alert.operation
        slots = _ok(client.get(f"/api/v1/alerts/{alert.id}/slots", headers=headers))
        slot = slots["slots"][0]
        booking = _ok(
            client.post(
                "/api/v1/bookings",
                headers=headers,
                json={"vehicle_id": alert.vehicle_id, "op_code": alert.operation, "alert_id": alert.id,
                      "technician_id": slot["technician_id"], "bay_id": slot["bay_id"], "starts_at": slot["starts_at"]},
            ),
            201,
        )  # fmt: skip
        assert _ok(client.get(f"/api/v1/alerts/{alert.id}", headers=headers))["state"] == "booked"
        order = _ok(client.post(f"/api/v1/bookings/{booking['id']}/work-order", headers=headers), 201)
        assert order["evidence"] == detail["evidence"]
        path = f"/api/v1/work-orders/{order['id']}"
        _ok(client.post(f"{path}/transitions", headers=headers, json={"to": "diagnosis"}))
        _ok(client.patch(path, headers=headers, json={"findings": "confirmed on the bench", "labour_hours": 1.0,
                                                      "alert_outcome": "confirmed"}))  # fmt: skip
        refused = client.post(f"{path}/transitions", headers=headers, json={"to": "closed"})
        assert refused.status_code == 409 and refused.json()["error"]["details"]["allowed"]
        survey_url = None
        for state in ("repair", "quality_check", "settlement", "closed"):
            moved = _ok(client.post(f"{path}/transitions", headers=headers, json={"to": state}))
            survey_url = moved.get("survey_link") or survey_url
        assert survey_url, "closing the work order returns the customer's survey link"
        token = survey_url.rstrip("/").split("/")[-1]
        _ok(client.post(f"/api/v1/surveys/{token}", json={"score": 9, "comment": "提前通知，很方便"}))
        assert _ok(client.get(path, headers=headers))["survey"]["score"] == 9

    with engine.connect() as conn:
        labels = {label.alert_id: label for label in lifecycle.labels(conn)}
    assert labels[alert.id].outcome.value == "confirmed"
    engine.dispose()
