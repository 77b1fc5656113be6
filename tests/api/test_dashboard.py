"""Store profiles, the store dashboard and the bookings calendar against a real database.

A hand-built ISO week in store A (Asia/Shanghai, UTC+8): Monday 2026-11-16 00:00 local is
2026-11-15T16:00Z, so rows a few minutes either side of that instant land in different weeks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, event, insert

from api.dashboard.service import dashboard
from api.tenancy import Role, StoreScope
from store.db import make_engine
from store.fleet import add_vehicle
from store.outbox import emit
from store.service_tables import bookings, outbox, surveys, work_orders
from store.tables import alerts, vehicles
from tests.api_world import World

SHANGHAI = ZoneInfo("Asia/Shanghai")
OP = "BAT-TEST-REPLACE"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class HandBuiltWeek:
    alert_ids: dict[str, int]
    work_order_ids: dict[str, int]
    booking_ids: dict[str, int]


def _alert(conn: Connection, store_id: int, vehicle_id: int, **values: Any) -> int:
    values = {
        "store_id": store_id, "vehicle_id": vehicle_id, "mode": "battery", "severity": "warning", "confidence": 0.8,
        "observed_at": values.get("first_observed_at", utc("2026-11-01T00:00:00")),
        "first_observed_at": utc("2026-11-01T00:00:00"), "evidence": {}, "operation": OP, "parts": [],
        "model_version": "test", **values,
    }  # fmt: skip
    return int(conn.scalar(insert(alerts).values(**values).returning(alerts.c.id)))


def _work_order(conn: Connection, store_id: int, vehicle_id: int, **values: Any) -> int:
    row = {"store_id": store_id, "vehicle_id": vehicle_id, "created_by": "test", "state": "closed", **values}
    return int(conn.scalar(insert(work_orders).values(**row).returning(work_orders.c.id)))


def _survey(conn: Connection, store_id: int, work_order_id: int, score: int, answered_at: datetime) -> None:
    token = hashlib.sha256(str(work_order_id).encode()).hexdigest()
    conn.execute(
        insert(surveys).values(store_id=store_id, work_order_id=work_order_id, token_hash=token, language="zh",
                               score=score, answered_at=answered_at)
    )  # fmt: skip


def _booking(conn: Connection, world: World, tech: int, state: str, starts: datetime, hours: float, **kw: Any) -> int:
    a = world.stores["A"]
    row = {
        "store_id": a.store_id, "vehicle_id": a.vehicle_id, "op_code": OP,
        "technician_id": a.workshop.technician_ids[tech], "bay_id": a.workshop.bay_ids[tech % 3],
        "starts_at": starts, "ends_at": starts + timedelta(hours=hours), "state": state, "created_by": "test", **kw,
    }  # fmt: skip
    return int(conn.scalar(insert(bookings).values(**row).returning(bookings.c.id)))


@pytest.fixture
def week(world: World, db_url: str) -> HandBuiltWeek:
    """Alerts, work orders, surveys and bookings of store A in the weeks of 2026-11-09 and 2026-11-16."""
    a = world.stores["A"]
    sid, vid = a.store_id, a.vehicle_id
    engine = make_engine(db_url)
    with engine.begin() as conn:
        ids = {
            # raised Monday 00:30 local (Sunday 16:30Z): this week; confirmed, checked in 8 days after evidence
            "monday": _alert(conn, sid, vid, state="resolved", outcome="confirmed", days_to_failure=12.0,
                             created_at=utc("2026-11-15T16:30:00"), first_observed_at=utc("2026-11-10T00:00:00"),
                             acknowledged_at=utc("2026-11-16T02:00:00"), booked_at=utc("2026-11-16T03:00:00"),
                             closed_at=utc("2026-11-19T08:00:00")),
            # raised Sunday 23:30 local (15:30Z): the previous week; confirmed this week, 4 days lead
            "sunday": _alert(conn, sid, vid, state="resolved", outcome="confirmed", days_to_failure=20.0,
                             created_at=utc("2026-11-15T15:30:00"), first_observed_at=utc("2026-11-12T00:00:00"),
                             closed_at=utc("2026-11-20T00:00:00")),
            "no_work_order": _alert(conn, sid, vid, state="resolved", outcome="confirmed",
                                    closed_at=utc("2026-11-21T00:00:00")),
            "not_found": _alert(conn, sid, vid, state="resolved", outcome="not_found",
                                closed_at=utc("2026-11-17T00:00:00")),
            "dismissed": _alert(conn, sid, vid, state="dismissed", dismiss_reason="sold",
                                closed_at=utc("2026-11-18T00:00:00")),
            "dismissed_before": _alert(conn, sid, vid, state="dismissed", dismiss_reason="sold",
                                       closed_at=utc("2026-11-10T00:00:00")),
        }  # fmt: skip
        # the first prediction (14 days) was later revised to 12: the dashboard reports the first
        emit(conn, store_id=sid, event_type="alert.raised", subject_id=ids["monday"], payload={"days_to_failure": 14.0})
        orders = {
            "monday": _work_order(conn, sid, vid, alert_id=ids["monday"], created_at=utc("2026-11-18T00:00:00")),
            "sunday": _work_order(conn, sid, vid, alert_id=ids["sunday"], created_at=utc("2026-11-16T00:00:00")),
            "walk_in": _work_order(conn, sid, vid, created_at=utc("2026-11-17T00:00:00")),
            "cancelled": _work_order(conn, sid, vid, state="cancelled", created_at=utc("2026-11-17T00:00:00")),
            "walk_in_before": _work_order(conn, sid, vid, created_at=utc("2026-11-10T00:00:00")),
        }
        _survey(conn, sid, orders["monday"], 10, utc("2026-11-19T00:00:00"))
        _survey(conn, sid, orders["sunday"], 9, utc("2026-11-20T00:00:00"))
        _survey(conn, sid, orders["walk_in"], 5, utc("2026-11-21T00:00:00"))
        _survey(conn, sid, orders["walk_in_before"], 7, utc("2026-11-15T15:59:00"))  # Sunday 23:59 local
        booked = {
            "monday": _booking(conn, world, 0, "confirmed", utc("2026-11-16T01:00:00"), 2),  # 09:00-11:00 local
            "tuesday": _booking(conn, world, 0, "completed", utc("2026-11-17T01:00:00"), 3),
            "proposed": _booking(conn, world, 1, "proposed", utc("2026-11-16T02:00:00"), 1, alert_id=ids["monday"]),
            "cancelled": _booking(conn, world, 1, "cancelled", utc("2026-11-16T05:00:00"), 4),
            "across": _booking(conn, world, 2, "completed", utc("2026-11-15T15:00:00"), 2),  # Sun 23:00-Mon 01:00
        }
        conn.execute(
            work_orders.update().where(work_orders.c.id == orders["walk_in"]).values(booking_id=booked["tuesday"])
        )
        other = add_vehicle(conn, store_id=sid, vin="LSVDASH0000000001", make="VW", model="Passat", year=2020)
        _alert(
            conn, sid, other, state="open", mode="misfire", severity="critical", created_at=utc("2026-11-25T00:00:00")
        )
    engine.dispose()
    return HandBuiltWeek(ids, orders, booked)


def _dashboard(world: World, **params: Any) -> Any:
    response = world.call("GET", "/api/v1/dashboard", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_alert_counts_follow_the_stores_week_boundaries(world: World, week: HandBuiltWeek) -> None:
    body = _dashboard(world, week_of="2026-11-19")
    assert body["week"]["week_of"] == "2026-11-16"
    assert datetime.fromisoformat(body["week"]["starts_at"]) == datetime(2026, 11, 16, tzinfo=SHANGHAI)
    assert body["week"]["alerts"] == {
        "raised": 1, "acknowledged": 1, "booked": 1, "confirmed": 3, "not_found": 1, "dismissed": 1,
    }  # fmt: skip
    assert body["previous_week"]["week_of"] == "2026-11-09"
    assert body["previous_week"]["alerts"] == {
        "raised": 1, "acknowledged": 0, "booked": 0, "confirmed": 0, "not_found": 0, "dismissed": 1,
    }  # fmt: skip


def test_proactive_share_lead_time_and_survey(world: World, week: HandBuiltWeek) -> None:
    body = _dashboard(world, week_of="2026-11-16")
    this, before = body["week"], body["previous_week"]
    assert this["service_visits"] == {"checked_in": 3, "from_alerts": 2, "proactive_share": 0.6667}
    assert before["service_visits"] == {"checked_in": 1, "from_alerts": 0, "proactive_share": 0.0}
    assert this["lead_time"] == {
        "confirmed": 3, "measured": 2, "average_days": 6.0, "median_days": 6.0,
        "predicted_average_days": 17.0, "predicted_median_days": 17.0,  # first predictions 14 and 20
    }  # fmt: skip
    assert this["survey"] == {"answered": 3, "average": 8.0, "share_9_plus": 0.6667}
    assert before["survey"] == {"answered": 1, "average": 7.0, "share_9_plus": 0.0}
    assert before["lead_time"]["average_days"] is None


def test_utilisation_counts_worked_bookings_against_shifts(world: World, week: HandBuiltWeek) -> None:
    body = _dashboard(world, week_of="2026-11-22")  # Sunday: still the week of Monday 16th
    load = body["week"]["utilisation"]
    techs = {t["technician_id"]: t for t in load["technicians"]}
    first, second, third, _ = world.stores["A"].workshop.technician_ids
    assert techs[first]["booked_hours"] == 5.0  # confirmed 2 h + completed 3 h
    assert techs[first]["shift_hours"] == 57.0  # Monday to Saturday 08:30-18:00
    assert techs[first]["utilisation"] == round(5 / 57, 4)
    assert techs[second]["booked_hours"] == 0.0  # proposed and cancelled bookings hold no time
    assert techs[third]["booked_hours"] == 1.0  # the hour after Monday 00:00
    assert load["overall"] == round(6 / 228, 4)
    assert body["previous_week"]["utilisation"]["technicians"][2]["booked_hours"] == 1.0


def test_empty_week_gives_nulls_not_errors(world: World, week: HandBuiltWeek) -> None:
    body = _dashboard(world, week_of="2025-01-08")
    this = body["week"]
    assert set(this["alerts"].values()) == {0}
    assert this["service_visits"]["proactive_share"] is None
    assert this["lead_time"]["average_days"] is None and this["lead_time"]["predicted_median_days"] is None
    assert this["survey"] == {"answered": 0, "average": None, "share_9_plus": None}
    assert this["utilisation"]["overall"] == 0.0
    assert world.call("GET", "/api/v1/dashboard", params={"week_of": "9999-12-31"}).status_code == 422


def test_open_alerts_by_mode_and_severity_and_default_week(world: World, week: HandBuiltWeek) -> None:
    body = _dashboard(world)
    assert body["open_alerts"] == [
        {"mode": "misfire", "severity": "critical", "count": 1},
        {"mode": "battery", "severity": "warning", "count": 1},  # the world's own open alert
    ]
    today = datetime.now(SHANGHAI).date()
    assert body["week"]["week_of"] == (today - timedelta(days=today.isoweekday() - 1)).isoformat()
    assert body["week"]["alerts"]["raised"] >= 1  # the world's alert was raised just now


def test_group_admin_names_the_store_and_other_stores_are_404(world: World) -> None:
    a, b, x = (world.stores[k].store_id for k in "ABX")
    assert world.call("GET", "/api/v1/dashboard", role=Role.GROUP_ADMIN).status_code == 404
    assert world.call("GET", "/api/v1/dashboard", role=Role.GROUP_ADMIN, params={"store_id": b}).status_code == 200
    assert world.call("GET", "/api/v1/dashboard", params={"store_id": b}).status_code == 404
    assert world.call("GET", "/api/v1/dashboard", role=Role.TECHNICIAN, params={"store_id": a}).status_code == 200
    assert world.call("GET", "/api/v1/dashboard", role=Role.GROUP_ADMIN, params={"store_id": x}).status_code == 404


def test_stores_lists_only_mine_with_hours_and_settings(world: World) -> None:
    a, b, x = (world.stores[k].store_id for k in "ABX")
    mine = world.call("GET", "/api/v1/stores", role=Role.SERVICE_ADVISOR).json()["items"]
    assert [s["id"] for s in mine] == [a]
    assert mine[0]["code"] == "S-A" and mine[0]["timezone"] == "Asia/Shanghai"
    assert [d["weekday"] for d in mine[0]["opening_hours"]] == [1, 2, 3, 4, 5, 6]
    assert mine[0]["opening_hours"][0]["starts_at"] == "08:30:00"
    assert mine[0]["settings"]["slot_step_minutes"] == 30
    group = world.call("GET", "/api/v1/stores", role=Role.GROUP_ADMIN, params={"limit": 1}).json()
    rest = world.call("GET", "/api/v1/stores", role=Role.GROUP_ADMIN, params={"cursor": group["next_cursor"]}).json()
    assert [s["id"] for s in group["items"] + rest["items"]] == [a, b]
    assert world.call("GET", f"/api/v1/stores/{b}", role=Role.INTEGRATION).status_code == 404
    assert world.call("GET", f"/api/v1/stores/{x}", role=Role.GROUP_ADMIN).status_code == 404
    assert world.call("GET", f"/api/v1/stores/{b}", role=Role.TECHNICIAN, store="B").json()["name"] == "Store B"


def _calendar(world: World, start: str, end: str, **params: Any) -> Any:
    return world.call("GET", "/api/v1/calendar", params={"from": start, "to": end, **params})


def test_calendar_has_everything_the_page_draws(world: World, week: HandBuiltWeek) -> None:
    response = _calendar(world, "2026-11-16T00:00:00+08:00", "2026-11-18T00:00:00+08:00")
    assert response.status_code == 200, response.text
    body = response.json()
    a = world.stores["A"]
    assert [(d["day"], d["starts_at"]) for d in body["opening_hours"]] == [
        ("2026-11-16", "2026-11-16T08:30:00+08:00"), ("2026-11-17", "2026-11-17T08:30:00+08:00"),
    ]  # fmt: skip
    assert len(body["bays"]) == 3
    assert {t["id"] for t in body["technicians"]} == set(a.workshop.technician_ids)
    assert all(len(t["shifts"]) == 2 and t["skills"] for t in body["technicians"])
    items = {b["id"]: b for b in body["bookings"]}
    assert set(items) == {week.booking_ids[k] for k in ("monday", "tuesday", "proposed", "across")}
    proposed = items[week.booking_ids["proposed"]]
    assert proposed["state"] == "proposed" and proposed["alert_id"] == week.alert_ids["monday"]
    assert proposed["vin"] == a.vin and proposed["op_name_zh"] == "蓄电池检测与更换"
    assert proposed["starts_at"] == "2026-11-16T10:00:00+08:00"
    assert items[week.booking_ids["tuesday"]]["work_order_id"] == week.work_order_ids["walk_in"]


def test_calendar_range_must_be_aware_ordered_and_at_most_31_days(world: World) -> None:
    assert _calendar(world, "2026-11-01T00:00:00+08:00", "2026-12-02T00:00:00+08:00").status_code == 200
    too_long = _calendar(world, "2026-11-01T00:00:00+08:00", "2026-12-02T00:00:01+08:00")
    assert too_long.status_code == 422 and "31 days" in too_long.json()["error"]["message"]
    assert _calendar(world, "2026-11-01T00:00:00", "2026-11-02T00:00:00").status_code == 422
    assert _calendar(world, "2026-11-02T00:00:00Z", "2026-11-01T00:00:00Z").status_code == 422
    b = world.stores["B"].store_id
    assert _calendar(world, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", store_id=b).status_code == 404


def _a_year_of_history(conn: Connection, world: World, now: datetime) -> None:
    """2,000 vehicles with a year of alerts, work orders, surveys and bookings in store A."""
    a = world.stores["A"]
    vehicle_rows = [
        {"store_id": a.store_id, "vin": f"LPERF{i:012d}", "make": "VW", "model": "Lavida", "year": 2020}
        for i in range(2000)
    ]
    vehicle_ids = list(conn.scalars(insert(vehicles).returning(vehicles.c.id), vehicle_rows))
    alert_rows, order_rows, booking_rows = [], [], []
    for i in range(6000):
        raised = now - timedelta(hours=i * 1.46)
        state, outcome = ("open", None) if i < 150 else ("resolved", "confirmed") if i % 3 else ("dismissed", None)
        alert_rows.append({
            "store_id": a.store_id, "vehicle_id": vehicle_ids[i % 2000], "mode": "battery", "severity": "warning",
            "confidence": 0.7, "observed_at": raised, "first_observed_at": raised - timedelta(days=2),
            "days_to_failure": 10.0, "evidence": {}, "operation": OP, "parts": [], "model_version": "perf",
            "state": state, "outcome": outcome, "created_at": raised, "acknowledged_at": raised + timedelta(hours=2),
            "booked_at": raised + timedelta(hours=3),
            "closed_at": None if state == "open" else raised + timedelta(days=5),
        })  # fmt: skip
    alert_ids = list(conn.scalars(insert(alerts).returning(alerts.c.id), alert_rows))
    events = [{"store_id": a.store_id, "event_type": kind, "subject_id": alert_id, "payload": {"days_to_failure": 9.0}}
              for alert_id in alert_ids for kind in ("alert.raised", "alert.updated", "alert.updated")]  # fmt: skip
    conn.execute(insert(outbox), events)
    for i in range(3000):
        start = now - timedelta(hours=i * 2.9)
        booking_rows.append({
            "store_id": a.store_id, "vehicle_id": vehicle_ids[i % 2000], "op_code": OP, "state": "completed",
            "technician_id": a.workshop.technician_ids[i % 4], "bay_id": a.workshop.bay_ids[i % 3],
            "starts_at": start, "ends_at": start + timedelta(hours=1), "created_by": "perf",
        })  # fmt: skip
        order_rows.append({
            "store_id": a.store_id, "vehicle_id": vehicle_ids[i % 2000], "created_by": "perf", "state": "closed",
            "alert_id": alert_ids[i + 150] if i % 2 else None, "created_at": start,
        })  # fmt: skip
    conn.execute(insert(bookings), booking_rows)
    order_ids = list(conn.scalars(insert(work_orders).returning(work_orders.c.id), order_rows))
    conn.execute(insert(surveys), [
        {"store_id": a.store_id, "work_order_id": wo, "token_hash": f"{wo:064d}", "language": "zh",
         "score": 6 + wo % 5, "answered_at": now - timedelta(hours=i * 5.8)}
        for i, wo in enumerate(order_ids[::2])
    ])  # fmt: skip


def test_dashboard_of_a_busy_store_reads_it_in_a_few_queries(world: World, db_url: str) -> None:
    """A store with 2,000 vehicles and a year of history: right figures, in at most 10 statements (speed
    itself is a benchmark's job, not a test's)."""
    now = datetime.now(UTC)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        _a_year_of_history(conn, world, now)
    statements: list[str] = []
    with engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
        scope = StoreScope(frozenset({world.stores["A"].store_id}))
        body = dashboard(conn, scope=scope, store_id=None, week_of=(now - timedelta(days=7)).date(), now=now)
    engine.dispose()
    assert body.week.alerts.raised > 100 and body.week.service_visits.checked_in > 50
    assert body.week.lead_time.predicted_average_days == 9.0  # from the alert.raised events
    assert len(statements) <= 10, statements
