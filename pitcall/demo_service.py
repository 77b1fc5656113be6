"""The demo's service part: the real API on loopback takes the most urgent alert through the store's
workflow — slots, booking, work order 接车→诊断→维修→质检→结算→closed, survey — and the notifier
delivers the events."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, func, select, update

from api.auth.service import create_user
from api.notifications.worker import run_once
from api.seed import seed_workshop
from api.tenancy import Role
from store.service_tables import deliveries, technicians, users
from store.tables import alerts, customers, stores, vehicles

MANAGER = "demo.manager"
PASSWORD = "pitcall-demo-password"  # development only; the demo database is local


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _prepare(engine: Engine) -> int | None:
    """Give the store with live alerts a workshop, a manager and a customer for its top alert."""
    with engine.begin() as conn:
        row = conn.execute(
            select(stores.c.id, stores.c.code, stores.c.name)
            .join(alerts, alerts.c.store_id == stores.c.id)
            .where(alerts.c.state.in_(["open", "acknowledged"]))
            .group_by(stores.c.id)
            .order_by(func.count().desc())
        ).first()
        if row is None:
            return None
        if conn.scalar(select(func.count()).select_from(technicians).where(technicians.c.store_id == row.id)) == 0:
            seed_workshop(conn, group_name="", store_code=row.code, store_name=row.name, technician_count=6)
        if conn.scalar(select(users.c.id).where(users.c.username == MANAGER)) is None:
            group_id = conn.execute(select(stores.c.group_id).where(stores.c.id == row.id)).scalar_one()
            create_user(conn, username=MANAGER, password=PASSWORD, role=Role.SERVICE_MANAGER, group_id=int(group_id),
                        store_id=row.id, display_name="李经理")  # fmt: skip
        customer_id = conn.scalar(
            customers.insert()
            .values(store_id=row.id, name="王芳", phone="13800138000", preferred_channel="sms",
                    consent_proactive_contact=True, consent_telematics=True)
            .returning(customers.c.id)
        )  # fmt: skip
        conn.execute(
            update(vehicles)
            .where(vehicles.c.store_id == row.id, vehicles.c.customer_id.is_(None))
            .values(customer_id=customer_id)
        )
        return int(row.id)


@contextmanager
def _api_server(database_url: str) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "PITCALL_API_DATABASE_URL": database_url, "PITCALL_API_ENVIRONMENT": "development"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pitcall", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the API did not become ready in 30 s")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def _walk(client: httpx.Client, steps: Table) -> dict[str, Any] | None:
    def call(label: str, method: str, path: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        response = client.request(method, path, **kwargs)
        took = (time.perf_counter() - started) * 1000
        steps.add_row(label, f"{method} {path}", str(response.status_code), f"{took:.0f} ms")
        response.raise_for_status()
        return response.json()

    queue = call("alert queue", "GET", "/api/v1/alerts", params={"state": ["open", "acknowledged"], "limit": 5})[
        "items"
    ]
    if not queue:
        return None
    alert = queue[0]
    call("alert evidence", "GET", f"/api/v1/alerts/{alert['id']}")
    if alert["state"] == "open":
        call("acknowledge", "POST", f"/api/v1/alerts/{alert['id']}/acknowledge")
    slot = call("propose slots", "GET", f"/api/v1/alerts/{alert['id']}/slots")["slots"][0]
    booking = call("book the first slot", "POST", "/api/v1/bookings", json={
        "vehicle_id": alert["vehicle_id"], "op_code": alert["operation"], "alert_id": alert["id"],
        "technician_id": slot["technician_id"], "bay_id": slot["bay_id"], "starts_at": slot["starts_at"]})  # fmt: skip
    order = call("接车 check-in", "POST", f"/api/v1/bookings/{booking['id']}/work-order")
    path = f"/api/v1/work-orders/{order['id']}"
    call("诊断 diagnosis", "POST", f"{path}/transitions", json={"to": "diagnosis"})
    call("findings, outcome", "PATCH", path, json={
        "findings": "confirmed on the bench", "labour_hours": 1.0, "alert_outcome": "confirmed"})  # fmt: skip
    for label, state in (("维修 repair", "repair"), ("质检 quality check", "quality_check"),
                         ("结算 settlement", "settlement")):  # fmt: skip
        call(label, "POST", f"{path}/transitions", json={"to": state})
    closed = call("closed", "POST", f"{path}/transitions", json={"to": "closed"})
    token = closed["survey_link"].rstrip("/").split("/")[-1]
    call("customer answers survey", "POST", f"/api/v1/surveys/{token}", json={"score": 9, "comment": "提前通知很方便"})
    return {"alert": alert, "slot": slot, "work_order": call("work order", "GET", path)}


def run_service_demo(database_url: str, engine: Engine, console: Console) -> None:
    """Run the walkthrough on the database that prediction filled; print each request."""
    if _prepare(engine) is None:
        console.print("no open alert to book: skipping the service walkthrough")
        return
    steps = Table("step", "request", "status", "time", title="the store's workflow through the API (pitcall api)")
    with _api_server(database_url) as base:
        token = httpx.post(f"{base}/api/v1/auth/token", data={"username": MANAGER, "password": PASSWORD}).json()
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token['access_token']}"}) as client:
            result = _walk(client, steps)
    console.print(steps)
    if result is None:
        return
    alert, order = result["alert"], result["work_order"]
    console.print(f"alert {alert['id']} ({alert['mode']}, {alert['vin']}) booked for {result['slot']['starts_at']} "
                  f"with {result['slot']['technician_name']}; work order {order['id']} closed, survey score "
                  f"{order['survey']['score']}; the alert is resolved 'confirmed' (a training label)")  # fmt: skip
    report = run_once(engine, datetime.now(UTC))
    with engine.connect() as conn:
        counts = conn.execute(
            select(deliveries.c.channel, deliveries.c.state, func.count()).group_by(deliveries.c.channel,
                                                                                   deliveries.c.state)
        ).all()  # fmt: skip
    console.print(f"notifier: {report}; deliveries {[tuple(c) for c in counts]}")
    console.print(f"explore it: PITCALL_API_ENVIRONMENT=development PITCALL_API_DATABASE_URL={database_url} pitcall api"
                  " → http://127.0.0.1:8080/docs "
                  f"(log in as {MANAGER} / {PASSWORD})")  # fmt: skip
