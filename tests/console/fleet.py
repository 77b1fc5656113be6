"""The console's data: a simulated store whose alerts prediction raised, padded to 2,000 vehicles, and
a second store with its own alert (for the isolation check); built once, then copied per test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection

from api.auth.service import create_user
from api.seed import seed_workshop
from api.tenancy import Role
from predict.model import shipped
from predict.service import replay
from simulators.bulk_load import bulk_load
from simulators.history import Cadence
from simulators.scenario import FleetPlan
from store.db import make_engine
from store.fleet import add_vehicle
from store.maintenance import refresh_rollups
from store.tables import alerts, customers, stores, vehicles
from tests.api_world import raise_test_alert

PASSWORD = "console test password"
STORE = "SIM-01"  # bulk_load's default store code
OTHER_STORE = "CON-B"
MANAGER = "li.manager"
OTHER_MANAGER = "wang.manager"
PADDING_VEHICLES = 2_000


@dataclass(frozen=True)
class ConsoleStore:
    store_id: int
    other_store_id: int
    other_alert_id: int
    alert_count: int


def build_console_store(db_url: str, *, today: datetime | None = None) -> ConsoleStore:
    """Simulate 6 failing cars for 45 days, replay prediction, add a workshop, people and padding."""
    start = (today or datetime.now(UTC)).date() - timedelta(days=46)
    plan = FleetPlan(seed=21, vehicles=6, start=start, days=45, fault_share=1.0, prefix="con")
    bulk_load(db_url, plan, cadence=Cadence(sample_every_s=60))
    engine = make_engine(db_url)
    replay(engine, first=plan.start, last=plan.start + timedelta(days=plan.days - 1), model=shipped())
    with engine.begin() as conn:
        _roll_up(conn)
        workshop = seed_workshop(conn, group_name="ignored", store_code=STORE, store_name="ignored")
        conn.execute(update(stores).where(stores.c.id == workshop.store_id).values(name="广州天河店"))
        create_user(conn, username=MANAGER, password=PASSWORD, role=Role.SERVICE_MANAGER, display_name="李经理",
                    group_id=workshop.group_id, store_id=workshop.store_id, language="zh")  # fmt: skip
        _give_cars_owners(conn, workshop.store_id)
        conn.execute(
            insert(vehicles),
            [
                {"store_id": workshop.store_id, "vin": f"LPAD{i:013d}", "make": "VW", "model": "Lavida", "year": 2020}
                for i in range(PADDING_VEHICLES)
            ],
        )
        other = seed_workshop(conn, group_name="Other group", store_code=OTHER_STORE, store_name="Other store")
        create_user(conn, username=OTHER_MANAGER, password=PASSWORD, role=Role.SERVICE_MANAGER,
                    group_id=other.group_id, store_id=other.store_id, language="en")  # fmt: skip
        other_vehicle = add_vehicle(conn, store_id=other.store_id, vin="LOTHER00000000001", make="Geely",
                                    model="Emgrand", year=2022)  # fmt: skip
        other_alert = raise_test_alert(conn, store_id=other.store_id, vehicle_id=other_vehicle)
        count = len(conn.execute(select(alerts.c.id).where(alerts.c.store_id == workshop.store_id)).all())
    engine.dispose()
    return ConsoleStore(workshop.store_id, other.store_id, other_alert, count)


def _roll_up(conn: Connection) -> None:
    """Invalidate the last month's vehicle-hours as ingest would (COPY bypassed it) and run the rollup job."""
    conn.execute(text("INSERT INTO rollup_invalidations (vehicle_id, bucket) SELECT DISTINCT vehicle_id, "
                      "time_bucket('1 hour', ts) FROM telemetry WHERE ts > now() - interval '32 days' "
                      "ON CONFLICT DO NOTHING"))  # fmt: skip
    while refresh_rollups(conn, now=datetime.now(UTC), limit=20_000) == 20_000:
        pass


def _give_cars_owners(conn: Connection, store_id: int) -> None:
    """Give each simulated car an owner who consents to proactive contact."""
    names = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊"]
    cars = conn.execute(select(vehicles.c.id).where(vehicles.c.store_id == store_id).order_by(vehicles.c.id)).all()
    for i, car in enumerate(cars):
        customer_id = conn.scalar(
            insert(customers)
            .values(
                store_id=store_id,
                name=names[i % len(names)],
                phone=f"139000000{i:02d}",
                consent_proactive_contact=True,
                consent_telematics=True,
            )
            .returning(customers.c.id)
        )
        conn.execute(update(vehicles).where(vehicles.c.id == car.id).values(customer_id=customer_id))
