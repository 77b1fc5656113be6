"""Store capacity through the API on a real database: technicians and shifts, bays, opening hours,
settings, the operation catalog and parts stock, and how each change shows in the proposed slots."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from api.tenancy import Role
from tests.api_world import StoreWorld, World

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEK = [{"weekday": d, "starts_at": "08:30:00", "ends_at": "18:00:00"} for d in range(1, 7)]


def next_monday() -> date:
    today = datetime.now(SHANGHAI).date()
    return today + timedelta(days=7 - today.weekday())


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def slots(world: World, store: StoreWorld, op_code: str = "BAT-TEST-REPLACE", **extra: Any) -> list[dict[str, Any]]:
    body = {"op_code": op_code, "vehicle_id": store.vehicle_id, "earliest": at(next_monday(), 0).isoformat(), **extra}
    response = world.call("POST", "/api/v1/bookings/slots", json=body)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["slots"]
    return result


def starts(found: list[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromisoformat(s["starts_at"]) for s in found]


def test_a_new_technician_with_the_skill_is_offered_on_his_shifts(world: World) -> None:
    a = world.stores["A"]
    evenings = [{"weekday": 2, "starts_at": "14:00:00", "ends_at": "18:00:00"}]
    body = {"name": "Wang Lei", "skills": ["engine", "electrical", "electrical"], "shifts": evenings}
    created = world.call("POST", f"/api/v1/stores/{a.store_id}/technicians", role=Role.SERVICE_ADVISOR, json=body)
    assert created.status_code == 201, created.text
    tech = created.json()
    assert tech["skills"] == ["electrical", "engine"] and tech["active"] is True
    assert tech["shifts"] == [{"weekday": 2, "starts_at": "14:00:00", "ends_at": "18:00:00"}]
    mine = slots(world, a, technician_id=tech["id"], count=2)
    tuesday = next_monday() + timedelta(days=1)
    assert starts(mine) == [at(tuesday, 14), at(tuesday, 14, 30)]
    assert mine[0]["technician_name"] == "Wang Lei"
    listed = world.call("GET", f"/api/v1/stores/{a.store_id}/technicians", role=Role.TECHNICIAN,
                        params={"skill": "electrical"}).json()["items"]  # fmt: skip
    assert [t["id"] for t in listed] == [a.workshop.technician_ids[0], tech["id"]]
    assert world.call("GET", f"/api/v1/technicians/{tech['id']}", role=Role.INTEGRATION).json() == tech


def test_shifts_are_replaced_as_a_week_and_checked(world: World) -> None:
    a = world.stores["A"]
    tech_id = a.workshop.technician_ids[0]
    morning = [{"weekday": d, "starts_at": "08:30:00", "ends_at": "10:00:00"} for d in (1, 3)]
    changed = world.call("PUT", f"/api/v1/technicians/{tech_id}/shifts", json={"days": morning})
    assert changed.status_code == 200, changed.text
    assert [d["weekday"] for d in changed.json()["shifts"]] == [1, 3]
    monday = next_monday()
    assert starts(slots(world, a, count=4)) == [at(monday, 8, 30), at(monday, 9), at(monday, 9, 30),
                                               at(monday + timedelta(days=2), 8, 30)]  # fmt: skip
    backwards = [{"weekday": 1, "starts_at": "18:00:00", "ends_at": "08:00:00"}]
    assert world.call("PUT", f"/api/v1/technicians/{tech_id}/shifts", json={"days": backwards}).status_code == 422
    twice = [morning[0], morning[0]]
    assert world.call("PUT", f"/api/v1/technicians/{tech_id}/shifts", json={"days": twice}).status_code == 422


def test_deactivating_a_technician_with_bookings_ahead_is_refused(world: World) -> None:
    a, monday = world.stores["A"], next_monday()
    tech_id = a.workshop.technician_ids[0]
    booking = {"vehicle_id": a.vehicle_id, "op_code": "BAT-TEST-REPLACE", "technician_id": tech_id,
               "bay_id": a.workshop.bay_ids[0], "starts_at": at(monday, 9).isoformat()}  # fmt: skip
    booking_id = world.call("POST", "/api/v1/bookings", json=booking).json()["id"]
    refused = world.call("PATCH", f"/api/v1/technicians/{tech_id}", json={"active": False})
    assert refused.status_code == 409
    assert refused.json()["error"]["details"] == {"booking_ids": [booking_id]}
    world.call("POST", f"/api/v1/bookings/{booking_id}/cancel", json={"reason": "technician leaves"})
    done = world.call("PATCH", f"/api/v1/technicians/{tech_id}", json={"active": False, "name": "Li (left)"})
    assert done.status_code == 200, done.text
    assert (done.json()["active"], done.json()["name"]) == (False, "Li (left)")
    assert slots(world, a) == []  # the store's only electrician is gone


def test_bays_are_named_uniquely_and_inactive_ones_are_not_offered(world: World) -> None:
    a = world.stores["A"]
    created = world.call("POST", f"/api/v1/stores/{a.store_id}/bays", json={"name": "bay 9"})
    assert created.status_code == 201, created.text
    duplicate = world.call("POST", f"/api/v1/stores/{a.store_id}/bays", json={"name": "bay 1"})
    assert duplicate.status_code == 409
    for bay_id in a.workshop.bay_ids:
        assert world.call("PATCH", f"/api/v1/bays/{bay_id}", json={"active": False}).json()["active"] is False
    assert {s["bay_name"] for s in slots(world, a)} == {"bay 9"}
    rename = world.call("PATCH", f"/api/v1/bays/{created.json()['id']}", json={"name": "bay 2"})
    assert rename.status_code == 409
    listed = world.call("GET", f"/api/v1/stores/{a.store_id}/bays", params={"limit": 3}).json()
    assert [b["name"] for b in listed["items"]] == ["bay 1", "bay 2", "bay 3"]
    rest = world.call("GET", f"/api/v1/stores/{a.store_id}/bays", params={"cursor": listed["next_cursor"]}).json()
    assert [b["name"] for b in rest["items"]] == ["bay 9"]


def test_opening_hours_decide_the_days_offered(world: World) -> None:
    a = world.stores["A"]
    hours = world.call("GET", f"/api/v1/stores/{a.store_id}/opening-hours", role=Role.TECHNICIAN).json()
    assert hours["timezone"] == "Asia/Shanghai" and hours["days"] == WEEK
    closed_monday = world.call("PUT", f"/api/v1/stores/{a.store_id}/opening-hours", json={"days": WEEK[1:]})
    assert closed_monday.status_code == 200, closed_monday.text
    assert [d["weekday"] for d in closed_monday.json()["days"]] == [2, 3, 4, 5, 6]
    assert starts(slots(world, a, count=1)) == [at(next_monday() + timedelta(days=1), 8, 30)]


OFFSET_WEEKS = (
    [{"weekday": 1, "starts_at": "09:00:00+02:00", "ends_at": "08:00:00Z"}],  # ordered in UTC, not locally
    [{"weekday": 1, "starts_at": "08:00:00+08:00", "ends_at": "18:00:00"}],  # aware beside naive
    [{"weekday": 1, "starts_at": "08:00:00", "ends_at": "18:00:00+00:00"}],
)


def test_times_with_an_offset_are_refused_with_422_and_change_nothing(world: World) -> None:
    """Opening hours and shifts are store-local wall-clock times: an offset is refused, not converted
    (issue 18: these bodies passed validation and failed the database check or the comparison, 500)."""
    a = world.stores["A"]
    tech_id = a.workshop.technician_ids[0]
    hours_url, shifts_url = f"/api/v1/stores/{a.store_id}/opening-hours", f"/api/v1/technicians/{tech_id}/shifts"
    hours_before = world.call("GET", hours_url).json()
    tech_before = world.call("GET", f"/api/v1/technicians/{tech_id}").json()
    for days in OFFSET_WEEKS:
        for method, url, body in (
            ("PUT", hours_url, {"days": days}),
            ("PUT", shifts_url, {"days": days}),
            ("POST", f"/api/v1/stores/{a.store_id}/technicians", {"name": "Zhao Min", "shifts": days}),
        ):
            response = world.call(method, url, json=body)
            assert response.status_code == 422, (url, days, response.text)
            assert "without an offset" in response.text
    assert world.call("GET", hours_url).json() == hours_before
    assert world.call("GET", f"/api/v1/technicians/{tech_id}").json() == tech_before
    assert len(world.call("GET", f"/api/v1/stores/{a.store_id}/technicians").json()["items"]) == len(
        a.workshop.technician_ids
    )


def test_settings_change_the_step_and_the_auto_proposals(world: World) -> None:
    a = world.stores["A"]
    url = f"/api/v1/stores/{a.store_id}/settings"
    defaults = {"store_id": a.store_id, "auto_propose_critical": False, "slot_step_minutes": 30,
                "booking_horizon_days": 21}  # fmt: skip
    assert world.call("GET", url, role=Role.INTEGRATION).json() == defaults
    changed = world.call("PATCH", url, role=Role.SERVICE_ADVISOR, json={"slot_step_minutes": 15})
    assert changed.json() == {**defaults, "slot_step_minutes": 15}
    monday = next_monday()
    assert starts(slots(world, a, count=3)) == [at(monday, 8, 30), at(monday, 8, 45), at(monday, 9)]
    assert world.call("PATCH", url, json={"slot_step_minutes": 1}).status_code == 422
    assert world.call("PATCH", url, json={"auto_propose_critical": True}).json()["auto_propose_critical"] is True


def test_operation_catalog_maps_alert_modes_and_dtcs(world: World) -> None:
    everything = world.call("GET", "/api/v1/service-operations", role=Role.TECHNICIAN).json()["items"]
    assert len(everything) == 9
    battery = world.call("GET", "/api/v1/service-operations", params={"mode": "battery"}).json()["items"]
    assert [(o["op_code"], o["skill"], o["labour_hours"]) for o in battery] == [("BAT-TEST-REPLACE", "electrical", 0.5)]
    misfire = world.call("GET", "/api/v1/service-operations", params={"dtc": "p0301"}).json()["items"]
    assert [o["op_code"] for o in misfire] == ["IGN-COIL-PLUG"]
    assert misfire[0]["parts"] == [{"part_no": "IGN-COIL", "qty": 1}, {"part_no": "SPARK-PLUG", "qty": 4}]
    first = world.call("GET", "/api/v1/service-operations", params={"limit": 5}).json()
    rest = world.call("GET", "/api/v1/service-operations", params={"cursor": first["next_cursor"]}).json()
    assert [o["op_code"] for o in first["items"] + rest["items"]] == sorted(o["op_code"] for o in everything)


def test_the_parts_system_updates_stock_and_slots_follow(world: World) -> None:
    a, monday = world.stores["A"], next_monday()
    url = f"/api/v1/stores/{a.store_id}/parts-stock"
    thursday = monday + timedelta(days=3)
    update = {"items": [{"part_no": "BAT-12V-60AH", "on_hand": 0, "incoming_qty": 4, "incoming_on": str(thursday)}]}
    changed = world.call("PUT", url, role=Role.INTEGRATION, json=update)
    assert changed.status_code == 200, changed.text
    assert changed.json() == [{"store_id": a.store_id, "part_no": "BAT-12V-60AH", "name_en": "12 V battery 60 Ah",
                               "name_zh": "12V 蓄电池 60Ah", "on_hand": 0, "reserved": 0, "available": 0,
                               "incoming_qty": 4, "incoming_on": str(thursday)}]  # fmt: skip
    assert starts(slots(world, a, count=1)) == [at(thursday, 8, 30)]
    listed = world.call("GET", url, role=Role.TECHNICIAN, params={"part_no": "BAT-12V-60AH"}).json()["items"]
    assert listed == changed.json()
    everything = world.call("GET", url, params={"limit": 200}).json()["items"]
    assert len(everything) == 13 and everything[0]["part_no"] == "ALT-14V-120A"


def test_stock_cannot_drop_below_what_bookings_reserved(world: World) -> None:
    a, monday = world.stores["A"], next_monday()
    booking = {"vehicle_id": a.vehicle_id, "op_code": "BAT-TEST-REPLACE", "technician_id": a.workshop.technician_ids[0],
               "bay_id": a.workshop.bay_ids[0], "starts_at": at(monday, 9).isoformat()}  # fmt: skip
    assert world.call("POST", "/api/v1/bookings", json=booking).status_code == 201
    url = f"/api/v1/stores/{a.store_id}/parts-stock"
    refused = world.call("PUT", url, json={"items": [{"part_no": "BAT-12V-60AH", "on_hand": 0}]})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "stock_below_reserved"
    kept = world.call("PUT", url, json={"items": [{"part_no": "BAT-12V-60AH", "on_hand": 1}]}).json()
    assert (kept[0]["on_hand"], kept[0]["reserved"], kept[0]["available"]) == (1, 1, 0)
    unknown = world.call("PUT", url, json={"items": [{"part_no": "NOPE", "on_hand": 1}]})
    assert unknown.status_code == 422 and unknown.json()["error"]["details"] == {"part_nos": ["NOPE"]}
    undated = {"items": [{"part_no": "BAT-12V-60AH", "on_hand": 1, "incoming_qty": 3}]}
    assert world.call("PUT", url, json=undated).status_code == 422


def test_roles(world: World) -> None:
    a = world.stores["A"]
    stock = {"items": [{"part_no": "BAT-12V-60AH", "on_hand": 9}]}
    for role in (Role.SERVICE_ADVISOR, Role.TECHNICIAN):
        assert world.call("PUT", f"/api/v1/stores/{a.store_id}/parts-stock", role=role, json=stock).status_code == 403
    for role in (Role.TECHNICIAN, Role.INTEGRATION):
        new = world.call("POST", f"/api/v1/stores/{a.store_id}/technicians", role=role, json={"name": "Zhao"})
        assert new.status_code == 403
        assert world.call("PATCH", f"/api/v1/stores/{a.store_id}/settings", role=role, json={}).status_code == 403
    assert world.call("PUT", f"/api/v1/stores/{a.store_id}/parts-stock", role=Role.GROUP_ADMIN,
                      json=stock).status_code == 200  # fmt: skip


def test_another_store_sees_404(world: World) -> None:
    a = world.stores["A"]
    for method, path, body in (
        ("GET", f"/api/v1/stores/{a.store_id}/technicians", None),
        ("POST", f"/api/v1/stores/{a.store_id}/technicians", {"name": "Spy"}),
        ("GET", f"/api/v1/technicians/{a.workshop.technician_ids[0]}", None),
        ("PATCH", f"/api/v1/technicians/{a.workshop.technician_ids[0]}", {"active": False}),
        ("PUT", f"/api/v1/technicians/{a.workshop.technician_ids[0]}/shifts", {"days": []}),
        ("PATCH", f"/api/v1/bays/{a.workshop.bay_ids[0]}", {"active": False}),
        ("PUT", f"/api/v1/stores/{a.store_id}/opening-hours", {"days": []}),
        ("GET", f"/api/v1/stores/{a.store_id}/settings", None),
        ("PUT", f"/api/v1/stores/{a.store_id}/parts-stock", {"items": [{"part_no": "BAT-12V-60AH", "on_hand": 0}]}),
    ):
        for store in ("B", "X"):
            assert world.call(method, path, store=store, json=body).status_code == 404, (method, path, store)
    assert slots(world, a)  # nothing of A changed
