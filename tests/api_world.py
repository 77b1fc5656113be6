"""A dealer group with two 4S stores (A and B) and a second group, for API tests.

Each store has a workshop, a customer with a vehicle, an open alert, one person per role and an
integration key. `World.client(role, store)` returns a TestClient that sends that person's token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection, insert, select

from api.auth.service import create_api_key, create_user
from api.seed import Workshop, seed_workshop
from api.tenancy import Role
from predict import alerts as lifecycle
from predict.catalog import CATALOG, FailureMode
from predict.dtc_kb import Severity
from store import fleet
from store.db import make_engine
from store.fleet import add_vehicle
from store.outbox import emit
from store.service_tables import api_keys, bookings, deliveries, users, webhook_subscriptions, work_orders
from store.tables import customers, vehicles

PASSWORD = "correct horse battery"
STORES = ("A", "B", "X")  # A and B: group 1; X: another group


@dataclass
class StoreWorld:
    code: str
    workshop: Workshop
    customer_id: int
    vehicle_id: int
    vin: str
    alert_id: int
    users: dict[Role, str] = field(default_factory=dict)  # role -> username
    api_key: str = ""

    @property
    def store_id(self) -> int:
        return self.workshop.store_id

    def workshop_store_ids(self) -> set[int]:
        """The stores this store's people see (their own)."""
        return {self.workshop.store_id}


def raise_test_alert(
    conn: Connection,
    *,
    store_id: int,
    vehicle_id: int,
    mode: FailureMode = FailureMode.BATTERY,
    severity: Severity = Severity.WARNING,
    days_to_failure: float | None = 12.0,
    confidence: float = 0.8,
) -> int:
    """Open an alert as prediction would (same lifecycle code, same outbox event)."""
    operation = CATALOG[mode].operation
    draft = lifecycle.AlertDraft(
        vehicle_id=vehicle_id, store_id=store_id, mode=mode, severity=severity, confidence=confidence,
        observed_at=datetime.now(UTC) - timedelta(hours=1), days_to_failure=days_to_failure,
        evidence={"index": [1.0, 1.4, 2.2], "threshold": 2.0}, operation=operation.op_code,
        parts=operation.parts, model_version="test",
    )  # fmt: skip
    result = lifecycle.raise_alert(conn, draft)
    assert result.alert_id is not None
    return result.alert_id


def _store(conn: Connection, code: str, group: str, index: int) -> StoreWorld:
    workshop = seed_workshop(conn, group_name=group, store_code=f"S-{code}", store_name=f"Store {code}")
    customer_id = int(
        conn.scalar(
            insert(customers)
            .values(store_id=workshop.store_id, name=f"Customer {code}", phone=f"1380000000{index}",
                    email=f"c{code.lower()}@example.com", consent_proactive_contact=True, consent_telematics=True)
            .returning(customers.c.id)
        )
    )  # fmt: skip
    vin = f"LSVTEST{index:02d}00000{index:03d}"[:17]
    vehicle_id = add_vehicle(conn, store_id=workshop.store_id, vin=vin, make="VW", model="Lavida", year=2021)
    conn.execute(vehicles.update().where(vehicles.c.id == vehicle_id).values(customer_id=customer_id))
    alert_id = raise_test_alert(conn, store_id=workshop.store_id, vehicle_id=vehicle_id)
    world = StoreWorld(code, workshop, customer_id, vehicle_id, vin, alert_id)
    for role in (Role.SERVICE_MANAGER, Role.SERVICE_ADVISOR, Role.TECHNICIAN):
        username = f"{role.value}_{code.lower()}"
        create_user(conn, username=username, password=PASSWORD, role=role, group_id=workshop.group_id,
                    store_id=workshop.store_id)  # fmt: skip
        world.users[role] = username
    world.api_key = create_api_key(conn, name=f"CRM {code}", group_id=workshop.group_id, store_id=workshop.store_id).key
    return world


@dataclass
class World:
    app_client: TestClient
    stores: dict[str, StoreWorld]
    group_admin: str
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, username: str) -> str:
        if username not in self._tokens:
            response = self.app_client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
            assert response.status_code == 200, response.text
            self._tokens[username] = response.json()["access_token"]
        return self._tokens[username]

    def headers(self, role: Role, store: str = "A") -> dict[str, str]:
        if role is Role.INTEGRATION:
            return {"X-API-Key": self.stores[store].api_key}
        username = self.group_admin if role is Role.GROUP_ADMIN else self.stores[store].users[role]
        return {"Authorization": f"Bearer {self.token(username)}"}

    def call(
        self, method: str, path: str, *, role: Role = Role.SERVICE_MANAGER, store: str = "A", **kwargs: Any
    ) -> Any:
        return self.app_client.request(method, path, headers=self.headers(role, store), **kwargs)


def build_world(conn: Connection) -> tuple[dict[str, StoreWorld], str]:
    stores = {
        "A": _store(conn, "A", "Group One", 1),
        "B": _store(conn, "B", "Group One", 2),
        "X": _store(conn, "X", "Group Two", 3),
    }
    admin = "group_admin_one"
    create_user(conn, username=admin, password=PASSWORD, role=Role.GROUP_ADMIN,
                group_id=stores["A"].workshop.group_id, store_id=None)  # fmt: skip
    return stores, admin


class Ids(dict[str, Any]):
    """A store's ids by path-parameter / body-field name."""


def store_resources(db_url: str, s: StoreWorld) -> Ids:
    """Give store `s` one of everything an operation can name (booking, work order, device, webhook,
    delivery, key) and return the ids by the names the OpenAPI spec gives them."""
    engine = make_engine(db_url)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    with engine.begin() as conn:
        booking_id = conn.scalar(
            insert(bookings).values(
                store_id=s.store_id, vehicle_id=s.vehicle_id, op_code="BAT-TEST-REPLACE", state="confirmed",
                technician_id=s.workshop.technician_ids[0], bay_id=s.workshop.bay_ids[0], starts_at=start,
                ends_at=start + timedelta(hours=1), created_by="test",
            ).returning(bookings.c.id)
        )  # fmt: skip
        work_order_id = conn.scalar(
            insert(work_orders)
            .values(store_id=s.store_id, vehicle_id=s.vehicle_id, created_by="test", complaint="noise")
            .returning(work_orders.c.id)
        )
        device = fleet.provision_device(conn, device_id=f"dongle-{s.code.lower()}-1", vin=s.vin)
        webhook_id = conn.scalar(
            insert(webhook_subscriptions).values(
                group_id=s.workshop.group_id, store_id=s.store_id, url="http://127.0.0.1:9/hook",
                event_types=["*"], created_by="test",
            ).returning(webhook_subscriptions.c.id)
        )  # fmt: skip
        event_id = emit(conn, store_id=s.store_id, event_type="booking.confirmed", subject_id=booking_id, payload={})
        delivery_id = conn.scalar(
            insert(deliveries).values(
                outbox_id=event_id, store_id=s.store_id, channel="webhook", subscription_id=webhook_id,
                recipient="http://127.0.0.1:9/hook",
            ).returning(deliveries.c.id)
        )  # fmt: skip
        key_id = conn.scalar(select(api_keys.c.id).where(api_keys.c.store_id == s.store_id))
        user_id = conn.scalar(select(users.c.id).where(users.c.username == s.users[Role.TECHNICIAN]))
    engine.dispose()
    return Ids(
        key_id=key_id,
        user_id=user_id,
        max_seconds=0.5,  # the event stream closes by itself
        alert_id=s.alert_id, vehicle_id=s.vehicle_id, customer_id=s.customer_id, booking_id=booking_id,
        work_order_id=work_order_id, technician_id=s.workshop.technician_ids[0], bay_id=s.workshop.bay_ids[0],
        device_id=device.device_id, webhook_id=webhook_id, subscription_id=webhook_id, delivery_id=delivery_id,
        store_id=s.store_id,
    )  # fmt: skip
