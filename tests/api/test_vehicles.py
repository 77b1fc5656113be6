"""Vehicles, telemetry and devices through the API against a real TimescaleDB.

Samples are inserted as ingest stores them (rows plus rollup invalidations) and the rollup job of
store/maintenance.py fills the hourly rollup, so series are checked against figures worked out by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from api.tenancy import Role
from api.vehicles.telemetry import ROLLUP_SERIES, UTC_BUCKET
from store.broker_files import device_accounts
from store.db import make_engine
from store.maintenance import refresh_rollups
from store.secrets import verify_secret
from store.tables import customers, device_status, devices, dtc_events, rollup_invalidations, telemetry
from tests.api_world import World

T0 = datetime(2026, 11, 2, tzinfo=UTC)  # 08:00 in the stores' time zone (Asia/Shanghai)
Sample = tuple[datetime, dict[str, float | None]]
SAMPLES: list[Sample] = [
    (T0 + timedelta(minutes=10), {"COOLANT_TEMP": 80.0, "RPM": 800.0}),
    (T0 + timedelta(minutes=40), {"COOLANT_TEMP": 90.0, "RPM": 2400.0}),
    (T0 + timedelta(minutes=80), {"COOLANT_TEMP": 100.0, "RPM": None}),
    (T0 + timedelta(minutes=125), {"COOLANT_TEMP": None, "RPM": 900.0}),
]


def store_samples(db_url: str, vehicle_id: int, samples: Iterable[Sample]) -> None:
    """Write samples and their invalidated hours like ingest, then run the rollup job."""
    engine = make_engine(db_url)
    with engine.begin() as conn:
        for seq, (ts, pids) in enumerate(samples):
            conn.execute(insert(telemetry).values(ts=ts, vehicle_id=vehicle_id, device_id="d", seq=seq, pids=pids))
            hour = ts.replace(minute=0, second=0, microsecond=0)
            conn.execute(
                pg_insert(rollup_invalidations).values(vehicle_id=vehicle_id, bucket=hour).on_conflict_do_nothing()
            )
        refresh_rollups(conn, now=datetime.now(UTC), settle=timedelta(hours=-1))
    engine.dispose()


def get_series(world: World, vehicle_id: int, start: datetime, end: datetime, bucket: str, **kw: Any) -> Any:
    params = {"pid": "COOLANT_TEMP", "from": start.isoformat(), "to": end.isoformat(), "bucket": bucket}
    return world.call("GET", f"/api/v1/vehicles/{vehicle_id}/series", params=params, **kw)


def test_series_from_the_rollup_rebuckets_hours(world: World, db_url: str) -> None:
    a = world.stores["A"]
    store_samples(db_url, a.vehicle_id, SAMPLES)
    hourly = get_series(world, a.vehicle_id, T0, T0 + timedelta(hours=3), "1h", role=Role.INTEGRATION)
    assert hourly.status_code == 200, hourly.text
    body = hourly.json()
    assert body["source"] == "rollup"
    assert [(p["avg"], p["min"], p["max"], p["count"]) for p in body["points"]] == [(85, 80, 90, 2), (100, 100, 100, 1)]
    assert body["points"][1]["start"] == "2026-11-02T01:00:00Z"
    six = get_series(world, a.vehicle_id, T0 + timedelta(minutes=30), T0 + timedelta(hours=6), "6h").json()
    assert six["from"] == "2026-11-02T00:00:00Z"  # widened to the whole hour the rollup holds
    assert [(p["avg"], p["min"], p["max"], p["count"]) for p in six["points"]] == [(90, 80, 100, 3)]
    day = get_series(world, a.vehicle_id, T0 - timedelta(days=1), T0 + timedelta(days=1), "1d").json()
    assert [p["start"] for p in day["points"]] == ["2026-11-01T16:00:00Z"]  # midnight in Shanghai
    assert day["points"][0]["count"] == 3


def test_series_from_raw_samples_for_small_buckets(world: World, db_url: str) -> None:
    a = world.stores["A"]
    store_samples(db_url, a.vehicle_id, SAMPLES)
    response = get_series(world, a.vehicle_id, T0, T0 + timedelta(hours=3), "15m", role=Role.TECHNICIAN)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "raw"
    assert [(p["start"], p["avg"], p["count"]) for p in body["points"]] == [
        ("2026-11-02T00:00:00Z", 80, 1),
        ("2026-11-02T00:30:00Z", 90, 1),
        ("2026-11-02T01:15:00Z", 100, 1),
    ]
    other_pid = world.call(
        "GET",
        f"/api/v1/vehicles/{a.vehicle_id}/series",
        params={"pid": "rpm", "from": T0.isoformat(), "to": (T0 + timedelta(hours=3)).isoformat(), "bucket": "1h"},
    ).json()
    assert other_pid["pid"] == "RPM"
    assert [(p["avg"], p["count"]) for p in other_pid["points"]] == [(1600, 2), (900, 1)]  # the null is a gap


def test_series_refuses_bad_requests_with_422(world: World) -> None:
    vehicle_id = world.stores["A"].vehicle_id
    path = f"/api/v1/vehicles/{vehicle_id}/series"
    good = {"pid": "COOLANT_TEMP", "from": "2026-11-01T00:00:00+08:00", "to": "2026-11-02T00:00:00+08:00"}
    cases = [
        ({"pid": "NOT_A_PID"}, "unknown PID"),
        ({"pid": "COOLANT_TEMP; DROP TABLE telemetry"}, "unknown PID"),
        ({"from": "2026-11-01T00:00:00"}, "invalid"),  # no time zone
        ({"to": "2026-10-31T00:00:00+08:00"}, "before"),
        ({"bucket": "1m", "to": "2026-11-09T00:00:01+08:00"}, "at most 7 days"),
        ({"bucket": "1h", "from": "2024-01-01T00:00:00Z"}, "at most 10080 buckets"),
        ({"bucket": "2h"}, "invalid"),
    ]
    for change, hint in cases:
        response = world.call("GET", path, params={**good, **change})
        assert response.status_code == 422, change
        error = response.json()["error"]
        assert hint in error["message"] or error["code"] == hint, (change, error)
    unknown = world.call("GET", path, params={**good, "pid": "NOT_A_PID"}).json()["error"]
    assert "NOT_A_PID" not in json.dumps(unknown) and unknown.get("details") is None


def test_hourly_series_reads_the_rollup_key(world: World, db_url: str) -> None:
    """With a realistic rollup (100 vehicles x 5 PIDs x 30 days) the planner serves a series by the key."""
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text("""
            INSERT INTO telemetry_hourly_rollup (vehicle_id, pid, bucket, min, max, sum, count)
            SELECT v, p, :t0 + h * INTERVAL '1 hour', 1, 2, 30, 20
            FROM generate_series(1000, 1099) AS v,
                 unnest(ARRAY['RPM', 'SPEED', 'COOLANT_TEMP', 'MAF', 'ENGINE_LOAD']) AS p,
                 generate_series(0, 719) AS h
            """),
            {"t0": T0},
        )
        conn.execute(text("ANALYZE telemetry_hourly_rollup"))
        plan = "\n".join(
            conn.execute(
                text("EXPLAIN " + ROLLUP_SERIES.format(bucket=UTC_BUCKET)),
                {"vehicle_id": 1042, "pid": "COOLANT_TEMP", "start": T0, "end": T0 + timedelta(days=30),
                 "width": timedelta(hours=1)},
            ).scalars()
        )  # fmt: skip
    engine.dispose()
    assert "pk_telemetry_hourly_rollup" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_latest_value_of_each_pid_within_the_lookback(world: World, db_url: str) -> None:
    a = world.stores["A"]
    now = datetime.now(UTC)
    samples: list[Sample] = [
        (now - timedelta(days=10), {"INTAKE_TEMP": 30.0}),
        (now - timedelta(hours=2), {"FUEL_LEVEL": 41.5}),
        (now - timedelta(minutes=5), {"RPM": 800.0, "COOLANT_TEMP": 90.0}),
        (now - timedelta(minutes=1), {"RPM": 850.0, "COOLANT_TEMP": None}),
    ]
    store_samples(db_url, a.vehicle_id, samples)
    body = world.call("GET", f"/api/v1/vehicles/{a.vehicle_id}/latest", role=Role.INTEGRATION).json()
    readings = {r["pid"]: (r["value"], datetime.fromisoformat(r["ts"])) for r in body["readings"]}
    assert set(readings) == {"COOLANT_TEMP", "FUEL_LEVEL", "RPM"}  # INTAKE_TEMP is older than a week
    assert readings["RPM"][0] == 850 and readings["COOLANT_TEMP"][0] == 90  # a null does not hide the value
    assert abs(readings["COOLANT_TEMP"][1] - (now - timedelta(minutes=5))) < timedelta(seconds=1)
    assert abs(datetime.fromisoformat(body["sample_at"]) - (now - timedelta(minutes=1))) < timedelta(seconds=1)
    month = world.call("GET", f"/api/v1/vehicles/{a.vehicle_id}/latest", params={"lookback_hours": 720}).json()
    assert "INTAKE_TEMP" in {r["pid"] for r in month["readings"]}


def test_dtc_history_newest_first_in_pages(world: World, db_url: str) -> None:
    a = world.stores["A"]
    engine = make_engine(db_url)
    with engine.begin() as conn:
        for day, codes in enumerate((["P0128"], ["P0128", "P0300"], [])):
            conn.execute(
                insert(dtc_events).values(
                    ts=T0 + timedelta(days=day), vehicle_id=a.vehicle_id, device_id="d", seq=day, mil=bool(codes),
                    stored=codes, pending=[], permanent=[], freeze_frame=None,
                )
            )  # fmt: skip
    engine.dispose()
    path = f"/api/v1/vehicles/{a.vehicle_id}/dtcs"
    first = world.call("GET", path, params={"limit": 2}, role=Role.TECHNICIAN).json()
    assert [e["stored"] for e in first["items"]] == [[], ["P0128", "P0300"]]
    rest = world.call("GET", path, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [e["stored"] for e in rest["items"]] == [["P0128"]] and rest["next_cursor"] is None
    assert rest["items"][0]["mil"] is True
    assert world.call("GET", path, params={"cursor": "garbage!"}).status_code == 422


def test_telemetry_of_another_stores_vehicle_is_not_found(world: World, db_url: str) -> None:
    b = world.stores["B"]
    store_samples(db_url, b.vehicle_id, SAMPLES)
    for path, params in (
        ("latest", {}),
        ("series", {"pid": "RPM", "from": T0.isoformat(), "to": (T0 + timedelta(hours=3)).isoformat()}),
        ("dtcs", {}),
        ("device", {}),
    ):
        response = world.call("GET", f"/api/v1/vehicles/{b.vehicle_id}/{path}", params=params, role=Role.INTEGRATION)
        assert response.status_code == 404, path
    admin = get_series(world, b.vehicle_id, T0, T0 + timedelta(hours=3), "1h", role=Role.GROUP_ADMIN)
    assert len(admin.json()["points"]) == 2


def test_register_vehicle_validates_vin_and_binds_same_store_customer(world: World) -> None:
    a, b = world.stores["A"], world.stores["B"]
    base = {"make": "BYD", "model": "Qin PLUS", "year": 2023}
    for vin in ("LGXCE4CB0P0O12345", "LGXCE4CB0P012345", "LGXCE4CB0P01234567", "LGXCE4CB0P0I12345"):
        assert world.call("POST", "/api/v1/vehicles", json={**base, "vin": vin}).status_code == 422, vin
    created = world.call(
        "POST", "/api/v1/vehicles", json={**base, "vin": "lgxce4cb0p0123456", "customer_id": a.customer_id},
        role=Role.SERVICE_ADVISOR,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    vehicle = created.json()
    assert vehicle["vin"] == "LGXCE4CB0P0123456" and vehicle["customer_id"] == a.customer_id
    assert world.call("POST", "/api/v1/vehicles", json={**base, "vin": "LGXCE4CB0P0123456"}).status_code == 409
    assert world.call("POST", "/api/v1/vehicles", json={**base, "vin": "LGXCE4CB0P0999999"},
                      role=Role.TECHNICIAN).status_code == 403  # fmt: skip
    other_store = {"customer_id": b.customer_id}
    path = f"/api/v1/vehicles/{vehicle['id']}"
    assert world.call("PATCH", path, json=other_store).status_code == 404  # B's customer is invisible to A
    assert world.call("PATCH", path, json=other_store, role=Role.GROUP_ADMIN).status_code == 422
    assert world.call("PATCH", path, json={"vin": "LGXCE4CB0P0999999"}).status_code == 422  # VIN never changes
    unbound = world.call("PATCH", path, json={"customer_id": None, "year": 2024}).json()
    assert unbound["customer_id"] is None and unbound["year"] == 2024
    found = world.call("GET", "/api/v1/vehicles", params={"vin": "0123"}).json()["items"]
    assert [v["id"] for v in found] == [vehicle["id"]]
    by_make = world.call("GET", "/api/v1/vehicles", params={"make": "byd"}).json()["items"]
    assert [v["id"] for v in by_make] == [vehicle["id"]]
    assert world.call("GET", f"/api/v1/vehicles/{b.vehicle_id}").status_code == 404


def test_vehicle_list_pages_and_stays_in_scope(world: World) -> None:
    admin_ids = [v["id"] for v in world.call("GET", "/api/v1/vehicles", role=Role.GROUP_ADMIN).json()["items"]]
    assert admin_ids == sorted([world.stores["A"].vehicle_id, world.stores["B"].vehicle_id])
    first = world.call("GET", "/api/v1/vehicles", params={"limit": 1}, role=Role.GROUP_ADMIN).json()
    rest = world.call("GET", "/api/v1/vehicles", params={"limit": 1, "cursor": first["next_cursor"]},
                      role=Role.GROUP_ADMIN).json()  # fmt: skip
    assert [first["items"][0]["id"], rest["items"][0]["id"]] == admin_ids and rest["next_cursor"] is None


def test_provision_shows_a_secret_once_that_matches_the_stored_hash(world: World, db_url: str) -> None:
    a = world.stores["A"]
    response = world.call("POST", f"/api/v1/vehicles/{a.vehicle_id}/devices")
    assert response.status_code == 201, response.text
    issued = response.json()
    assert issued["state"] == "active" and issued["mqtt_username"] == issued["device_id"]
    engine = make_engine(db_url)
    with engine.connect() as conn:
        stored = conn.execute(select(devices.c.secret_hash).where(devices.c.device_id == issued["device_id"])).scalar()
    assert stored is not None and issued["secret"] not in stored
    assert verify_secret(issued["secret"], stored)
    again = world.call("POST", f"/api/v1/vehicles/{a.vehicle_id}/devices", json={"device_id": "dongle-2"})
    assert again.status_code == 409 and again.json()["error"]["details"]["device_id"] == issued["device_id"]
    listed = world.call("GET", "/api/v1/devices", params={"state": "active"}).json()["items"]
    assert [d["device_id"] for d in listed] == [issued["device_id"]]
    assert "secret" not in listed[0]
    assert world.call("GET", f"/api/v1/vehicles/{a.vehicle_id}").json()["device_id"] == issued["device_id"]
    engine.dispose()


def test_revocation_marks_the_device_and_drops_its_broker_login(world: World, db_url: str) -> None:
    a = world.stores["A"]
    device_id = world.call("POST", f"/api/v1/vehicles/{a.vehicle_id}/devices", json={"device_id": "dongle-7"}).json()[
        "device_id"
    ]
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            insert(device_status).values(device_id=device_id, online=True, ts=T0, agent_version="0.3.1",
                                         buffer_depth=12, received_at=T0)
        )  # fmt: skip
    status = world.call("GET", f"/api/v1/vehicles/{a.vehicle_id}/device", role=Role.TECHNICIAN).json()
    assert (status["online"], status["buffer_depth"], status["agent_version"], status["revoked"]) == (
        True, 12, "0.3.1", False,
    )  # fmt: skip
    revoked = world.call("POST", f"/api/v1/devices/{device_id}/revoke", role=Role.GROUP_ADMIN)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["state"] == "revoked" and revoked.json()["revoked_at"] is not None
    again = world.call("POST", f"/api/v1/devices/{device_id}/revoke").json()
    assert again["revoked_at"] == revoked.json()["revoked_at"]  # idempotent
    status = world.call("GET", f"/api/v1/vehicles/{a.vehicle_id}/device").json()
    assert status["revoked"] is True and status["online"] is False
    with engine.connect() as conn:
        assert device_id not in [acct.username for acct in device_accounts(conn)]
    engine.dispose()
    replacement = world.call("POST", f"/api/v1/vehicles/{a.vehicle_id}/devices")
    assert replacement.status_code == 201  # a revoked dongle no longer blocks a new one


def test_only_managers_provision_revoke_and_list_devices(world: World) -> None:
    a, b = world.stores["A"], world.stores["B"]
    device_id = world.call("POST", f"/api/v1/vehicles/{b.vehicle_id}/devices", store="B").json()["device_id"]
    for role in (Role.SERVICE_ADVISOR, Role.TECHNICIAN, Role.INTEGRATION):
        assert world.call("POST", f"/api/v1/vehicles/{a.vehicle_id}/devices", role=role).status_code == 403, role
        assert world.call("POST", f"/api/v1/devices/{device_id}/revoke", role=role, store="B").status_code == 403
        assert world.call("GET", "/api/v1/devices", role=role).status_code == 403
    assert world.call("POST", f"/api/v1/devices/{device_id}/revoke").status_code == 404  # A's manager, B's device
    assert world.call("GET", "/api/v1/devices").json()["items"] == []
    assert world.call("POST", f"/api/v1/vehicles/{b.vehicle_id}/devices").status_code == 404


def test_provisioning_needs_the_owners_telematics_consent(world: World, db_url: str) -> None:
    a = world.stores["A"]
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(customers.update().where(customers.c.id == a.customer_id).values(consent_telematics=False))
    engine.dispose()
    response = world.call("POST", f"/api/v1/vehicles/{a.vehicle_id}/devices")
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"customer_id": a.customer_id}
