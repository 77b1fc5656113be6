"""Bookings through the API on a real database: slots, confirming, parts, alerts, proposals, cancelling,
and the race for the last slot between two real concurrent requests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, event, insert, select, text, update

from api.app import create_app
from api.bookings.proposals import auto_propose
from api.bookings.service import proposal_inputs
from api.settings import ApiSettings
from api.tenancy import Role
from predict.catalog import FailureMode
from predict.dtc_kb import Severity
from store.db import make_engine
from store.service_tables import bookings, outbox, part_stock, store_settings, technician_shifts, technicians
from store.tables import alerts
from tests.api_world import StoreWorld, World, raise_test_alert

SHANGHAI = ZoneInfo("Asia/Shanghai")
BATTERY_OP, BATTERY = "BAT-TEST-REPLACE", "BAT-12V-60AH"
OPENS, CLOSES = dt_time(8, 30), dt_time(18)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    instance = make_engine(db_url)
    yield instance
    instance.dispose()


def next_monday() -> date:
    """The store's next Monday (1 to 7 days ahead), so every slot below is in the future and the horizon."""
    today = datetime.now(SHANGHAI).date()
    return today + timedelta(days=7 - today.weekday())


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, dt_time(hour, minute), tzinfo=SHANGHAI)


def electrician(store: StoreWorld) -> int:
    """The world's workshop: only the first technician has the electrical skill the battery job needs."""
    return store.workshop.technician_ids[0]


def booking_body(store: StoreWorld, starts_at: datetime, **extra: Any) -> dict[str, Any]:
    body = {"vehicle_id": store.vehicle_id, "op_code": BATTERY_OP, "technician_id": electrician(store),
            "bay_id": store.workshop.bay_ids[0], "starts_at": starts_at.isoformat()}  # fmt: skip
    return {**body, **extra}


def first_slots(world: World, store: StoreWorld, earliest: datetime, count: int = 3) -> list[datetime]:
    body = {"op_code": BATTERY_OP, "vehicle_id": store.vehicle_id, "earliest": earliest.isoformat(), "count": count}
    response = world.call("POST", "/api/v1/bookings/slots", json=body)
    assert response.status_code == 200, response.text
    return [datetime.fromisoformat(s["starts_at"]) for s in response.json()["slots"]]


def stock(engine: Engine, store: StoreWorld, part_no: str = BATTERY) -> tuple[int, int]:
    with engine.connect() as conn:
        p = part_stock.c
        row = conn.execute(select(p.on_hand, p.reserved).where(p.store_id == store.store_id, p.part_no == part_no))
        on_hand, reserved = row.one()
    return on_hand, reserved


def event_types(engine: Engine, subject_id: int, prefix: str = "booking.") -> list[str]:
    with engine.connect() as conn:
        query = select(outbox.c.event_type).where(outbox.c.subject_id == subject_id).order_by(outbox.c.id)
        return [t for t in conn.scalars(query) if t.startswith(prefix)]


def alert_state(engine: Engine, alert_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.scalar(select(alerts.c.state).where(alerts.c.id == alert_id)))


def test_alert_slots_start_at_opening_in_the_store_time_zone(world: World) -> None:
    a, monday = world.stores["A"], next_monday()
    response = world.call("GET", f"/api/v1/alerts/{a.alert_id}/slots", role=Role.TECHNICIAN,
                          params={"earliest": at(monday, 0).isoformat(), "count": 3})  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["op_code"] == BATTERY_OP and body["timezone"] == "Asia/Shanghai"
    assert [s["starts_at"] for s in body["slots"]] == [f"{monday}T08:30:00+08:00", f"{monday}T09:00:00+08:00",
                                                       f"{monday}T09:30:00+08:00"]  # fmt: skip
    assert {s["technician_id"] for s in body["slots"]} == {electrician(a)}
    assert body["slots"][0]["bay_name"] == "bay 1"
    assert first_slots(world, a, at(monday, 0)) == [at(monday, 8, 30), at(monday, 9), at(monday, 9, 30)]


def test_confirming_books_the_slot_reserves_parts_books_the_alert_and_emits(world: World, engine: Engine) -> None:
    a, monday = world.stores["A"], next_monday()
    body = booking_body(a, at(monday, 8, 30), alert_id=a.alert_id, note="morning please")
    response = world.call("POST", "/api/v1/bookings", role=Role.SERVICE_ADVISOR, json=body)
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["state"] == "confirmed" and booking["created_by"] == "user:service_advisor_a"
    assert datetime.fromisoformat(booking["ends_at"]) == at(monday, 9)
    assert [(r["part_no"], r["qty"], r["state"]) for r in booking["reservations"]] == [(BATTERY, 1, "reserved")]
    assert stock(engine, a) == (5, 1)
    assert alert_state(engine, a.alert_id) == "booked"
    assert event_types(engine, booking["id"]) == ["booking.confirmed"]
    assert first_slots(world, a, at(monday, 0), count=1) == [at(monday, 9)]  # the slot is no longer offered
    assert world.call("GET", f"/api/v1/bookings/{booking['id']}", role=Role.TECHNICIAN).json() == booking


def test_the_same_slot_twice_is_409_slot_taken_with_fresh_proposals(world: World) -> None:
    a, monday = world.stores["A"], next_monday()
    assert world.call("POST", "/api/v1/bookings", json=booking_body(a, at(monday, 10))).status_code == 201
    overlapping = booking_body(a, at(monday, 10, 15), bay_id=a.workshop.bay_ids[1])
    refused = world.call("POST", "/api/v1/bookings", role=Role.SERVICE_ADVISOR, json=overlapping)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "slot_taken"
    assert [datetime.fromisoformat(p["starts_at"]) for p in error["details"]["proposals"]] == [
        at(monday, 10, 30), at(monday, 11), at(monday, 11, 30)
    ]  # fmt: skip


@contextmanager
def served(db_url: str) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a background thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(create_app(ApiSettings(database_url=db_url, environment="development")), log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def double_bookings(engine: Engine) -> int:
    """Pairs of capacity-holding bookings sharing a technician or a bay over overlapping periods."""
    with engine.connect() as conn:
        return int(conn.scalar(text(
            "SELECT count(*) FROM bookings x JOIN bookings y ON x.id < y.id AND x.period && y.period"
            " AND (x.technician_id = y.technician_id OR x.bay_id = y.bay_id)"
            " WHERE x.state IN ('confirmed', 'in_service') AND y.state IN ('confirmed', 'in_service')"
        )))  # fmt: skip


def test_two_advisors_racing_for_the_same_slot_one_wins_one_gets_slot_taken(
    world: World, db_url: str, engine: Engine
) -> None:
    a, monday = world.stores["A"], next_monday()
    people = [world.headers(Role.SERVICE_ADVISOR), world.headers(Role.SERVICE_MANAGER)]
    with served(db_url) as base, httpx.Client(base_url=base, timeout=30) as one, httpx.Client(base_url=base) as two:
        for round_ in range(4):
            starts_at = at(monday, 13) + timedelta(minutes=30 * round_)
            barrier = threading.Barrier(2)

            def attempt(client: httpx.Client, headers: dict[str, str], bay: int, start: datetime = starts_at,
                        gate: threading.Barrier = barrier) -> httpx.Response:  # fmt: skip
                gate.wait()
                return client.post("/api/v1/bookings", headers=headers, json=booking_body(a, start, bay_id=bay))

            with ThreadPoolExecutor(2) as pool:
                futures = [
                    pool.submit(attempt, c, h, b)
                    for c, h, b in zip((one, two), people, a.workshop.bay_ids[:2], strict=True)
                ]
                responses = sorted((f.result() for f in futures), key=lambda r: r.status_code)
            assert [r.status_code for r in responses] == [201, 409], [r.text for r in responses]
            assert responses[1].json()["error"]["code"] == "slot_taken"
            assert responses[1].json()["error"]["details"]["proposals"], (round_, responses[1].text)
    assert double_bookings(engine) == 0
    assert stock(engine, a) == (5, 4)  # one battery per winner, none for the losers


def test_the_database_refuses_what_python_did_not_see(world: World, db_url: str, engine: Engine) -> None:
    """A booking committed while the request is checking (a race): the exclusion constraint answers 409."""
    a, monday = world.stores["A"], next_monday()
    starts_at = at(monday, 15)
    with engine.connect() as rival, served(db_url) as base:
        tx = rival.begin()
        rival.execute(insert(bookings).values(
            store_id=a.store_id, vehicle_id=a.vehicle_id, op_code=BATTERY_OP, technician_id=electrician(a),
            bay_id=a.workshop.bay_ids[2], starts_at=starts_at, ends_at=starts_at + timedelta(minutes=30),
            state="confirmed", created_by="rival",
        ))  # fmt: skip
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(httpx.post, f"{base}/api/v1/bookings", headers=world.headers(Role.SERVICE_ADVISOR),
                                 json=booking_body(a, starts_at), timeout=30)  # fmt: skip
            _wait_for_a_lock_wait(engine)
            tx.commit()
            response = future.result()
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "slot_taken"
    assert datetime.fromisoformat(response.json()["error"]["details"]["proposals"][0]["starts_at"]) == at(
        monday, 15, 30
    )
    assert double_bookings(engine) == 0
    assert stock(engine, a) == (5, 0)  # the refused booking reserved nothing


def test_the_last_part_taken_meanwhile_is_409_parts_unavailable(world: World, db_url: str, engine: Engine) -> None:
    """Stock reserved by another transaction while the request is checking: the stock check answers 409."""
    a, monday = world.stores["A"], next_monday()
    where = (part_stock.c.store_id == a.store_id) & (part_stock.c.part_no == BATTERY)
    with engine.begin() as conn:
        conn.execute(update(part_stock).where(where).values(on_hand=1))
    with engine.connect() as rival, served(db_url) as base:
        tx = rival.begin()
        rival.execute(update(part_stock).where(where).values(reserved=part_stock.c.reserved + 1))
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(httpx.post, f"{base}/api/v1/bookings", headers=world.headers(Role.SERVICE_ADVISOR),
                                 json=booking_body(a, at(monday, 9)), timeout=30)  # fmt: skip
            _wait_for_a_lock_wait(engine)
            tx.commit()
            response = future.result()
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "parts_unavailable"
    with engine.connect() as conn:
        assert conn.scalar(select(bookings.c.id).where(bookings.c.store_id == a.store_id)) is None  # rolled back


def _wait_for_a_lock_wait(engine: Engine) -> None:
    deadline = time.monotonic() + 10
    with engine.connect() as conn:
        while not conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")):
            assert time.monotonic() < deadline, "the request never waited for the rival's booking"
            time.sleep(0.02)
            conn.rollback()


def test_parts_arriving_later_move_the_first_slot_and_refuse_earlier_days(world: World, engine: Engine) -> None:
    a, monday = world.stores["A"], next_monday()
    thursday = monday + timedelta(days=3)
    with engine.begin() as conn:
        conn.execute(update(part_stock).where(part_stock.c.store_id == a.store_id, part_stock.c.part_no == BATTERY)
                     .values(on_hand=0, incoming_qty=1, incoming_on=thursday))  # fmt: skip
    response = world.call("POST", "/api/v1/bookings/slots", json={"op_code": BATTERY_OP, "vehicle_id": a.vehicle_id})
    assert response.json()["parts_ready_on"] == str(thursday)
    assert datetime.fromisoformat(response.json()["slots"][0]["starts_at"]) == at(thursday, 8, 30)
    early = world.call("POST", "/api/v1/bookings", json=booking_body(a, at(monday, 9)))
    assert early.status_code == 409
    assert early.json()["error"] == {"code": "parts_unavailable", "message": "the parts are not available by that day",
                                     "details": {"parts_ready_on": str(thursday)}}  # fmt: skip
    booked = world.call("POST", "/api/v1/bookings", json=booking_body(a, at(thursday, 9)))
    assert booked.status_code == 201, booked.text
    assert booked.json()["reservations"][0]["available_on"] == str(thursday)
    again = world.call("POST", "/api/v1/bookings", json=booking_body(a, at(thursday, 10)))
    assert (again.status_code, again.json()["error"]["code"]) == (409, "parts_unavailable")  # the one battery is taken


def test_cancel_releases_parts_frees_the_slot_and_returns_the_alert(world: World, engine: Engine) -> None:
    a, monday = world.stores["A"], next_monday()
    booking = world.call("POST", "/api/v1/bookings", json=booking_body(a, at(monday, 8, 30), alert_id=a.alert_id))
    booking_id = booking.json()["id"]
    assert world.call("POST", f"/api/v1/bookings/{booking_id}/cancel", json={"reason": ""}).status_code == 422
    cancelled = world.call("POST", f"/api/v1/bookings/{booking_id}/cancel", role=Role.SERVICE_ADVISOR,
                           json={"reason": "customer is travelling"})  # fmt: skip
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "customer is travelling"
    assert cancelled.json()["reservations"][0]["state"] == "released"
    assert stock(engine, a) == (5, 0)
    assert alert_state(engine, a.alert_id) == "acknowledged"
    assert event_types(engine, booking_id) == ["booking.confirmed", "booking.cancelled"]
    assert first_slots(world, a, at(monday, 0), count=1) == [at(monday, 8, 30)]
    again = world.call("POST", f"/api/v1/bookings/{booking_id}/cancel", json={"reason": "twice"})
    assert again.status_code == 409
    assert again.json()["error"]["details"] == {"state": "cancelled", "allowed": []}
    rebooked = world.call("POST", "/api/v1/bookings", json=booking_body(a, at(monday, 8, 30), alert_id=a.alert_id))
    assert rebooked.status_code == 201, rebooked.text
    assert alert_state(engine, a.alert_id) == "booked"


def test_proposal_holds_nothing_until_confirmed(world: World, engine: Engine) -> None:
    a = world.stores["A"]
    proposed = world.call("POST", f"/api/v1/alerts/{a.alert_id}/proposal", role=Role.SERVICE_ADVISOR)
    assert proposed.status_code == 201, proposed.text
    proposal = proposed.json()
    assert proposal["state"] == "proposed" and proposal["reservations"] == []
    assert proposal["technician_id"] == electrician(a)
    assert stock(engine, a) == (5, 0)
    starts_at = datetime.fromisoformat(proposal["starts_at"])
    assert first_slots(world, a, starts_at, count=1) == [starts_at]  # still offered to others
    assert alert_state(engine, a.alert_id) == "open"
    refreshed = world.call("POST", f"/api/v1/alerts/{a.alert_id}/proposal").json()
    assert refreshed["id"] == proposal["id"]  # one proposal per alert, moved to the earliest slot
    confirmed = world.call("POST", f"/api/v1/bookings/{proposal['id']}/confirm", role=Role.SERVICE_ADVISOR)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "confirmed"
    assert confirmed.json()["reservations"][0]["part_no"] == BATTERY
    assert alert_state(engine, a.alert_id) == "booked"
    assert event_types(engine, proposal["id"]) == ["booking.proposed", "booking.proposed", "booking.confirmed"]
    assert world.call("POST", f"/api/v1/bookings/{proposal['id']}/confirm").status_code == 409
    booked_alert = world.call("POST", f"/api/v1/alerts/{a.alert_id}/proposal")
    assert booked_alert.status_code == 409
    assert "booked" in booked_alert.json()["error"]["message"]


def test_booking_the_alert_directly_cancels_its_proposal(world: World, engine: Engine) -> None:
    a, monday = world.stores["A"], next_monday()
    proposal = world.call("POST", f"/api/v1/alerts/{a.alert_id}/proposal").json()
    booked = world.call("POST", "/api/v1/bookings", json=booking_body(a, at(monday, 11), alert_id=a.alert_id))
    assert booked.status_code == 201, booked.text
    stale = world.call("GET", f"/api/v1/bookings/{proposal['id']}").json()
    assert (stale["state"], stale["cancel_reason"]) == ("cancelled", f"superseded by booking {booked.json()['id']}")
    assert event_types(engine, proposal["id"]) == ["booking.proposed", "booking.cancelled"]


def test_confirming_a_proposal_whose_slot_was_taken_is_409(world: World) -> None:
    a = world.stores["A"]
    proposal = world.call("POST", f"/api/v1/alerts/{a.alert_id}/proposal").json()
    starts_at = datetime.fromisoformat(proposal["starts_at"])
    taken = world.call("POST", "/api/v1/bookings", json=booking_body(a, starts_at, bay_id=a.workshop.bay_ids[2]))
    assert taken.status_code == 201, taken.text
    refused = world.call("POST", f"/api/v1/bookings/{proposal['id']}/confirm")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "slot_taken"
    assert datetime.fromisoformat(refused.json()["error"]["details"]["proposals"][0]["starts_at"]) > starts_at


def test_auto_propose_only_for_critical_alerts_of_stores_that_ask(world: World, engine: Engine) -> None:
    a = world.stores["A"]
    with engine.begin() as conn:
        critical = raise_test_alert(conn, store_id=a.store_id, vehicle_id=a.vehicle_id,
                                    mode=FailureMode.CHARGING_SYSTEM, severity=Severity.CRITICAL)  # fmt: skip
        assert auto_propose(conn, critical) is None  # the store has not enabled it
        conn.execute(update(store_settings).where(store_settings.c.store_id == a.store_id)
                     .values(auto_propose_critical=True))  # fmt: skip
        assert auto_propose(conn, a.alert_id) is None  # a warning
        booking_id = auto_propose(conn, critical)
        assert booking_id is not None
        assert auto_propose(conn, critical) is None  # once per alert
        row = conn.execute(select(bookings).where(bookings.c.id == booking_id)).one()
    assert (row.state, row.op_code, row.created_by) == ("proposed", "ALT-DIAG-REPLACE", "pitcall:auto-propose")
    assert event_types(engine, booking_id) == ["booking.proposed"]


@pytest.mark.parametrize(
    ("change", "status", "problem"),
    [
        ({"technician_id": 1}, 422, "technician_lacks_skill"),
        ({"starts_at": "sunday"}, 422, "store_closed"),
        ({"starts_at": "evening"}, 422, "store_closed"),
        ({"starts_at": "past"}, 422, None),
        ({"starts_at": "beyond"}, 422, None),
        ({"op_code": "NO-SUCH-OP"}, 404, None),
        ({"bay_id": 0}, 422, "unknown_bay"),
    ],
)
def test_refused_requests_say_why(world: World, change: dict[str, Any], status: int, problem: str | None) -> None:
    a, monday = world.stores["A"], next_monday()
    when = {"sunday": at(monday + timedelta(days=6), 10), "evening": at(monday, 17, 45),
            "past": datetime.now(UTC) - timedelta(hours=1), "beyond": at(monday + timedelta(days=28), 10)}  # fmt: skip
    body = booking_body(a, at(monday, 10))
    if change.get("technician_id") == 1:
        change = {"technician_id": a.workshop.technician_ids[1]}  # cooling and engine, no electrical
    if change.get("bay_id") == 0:
        change = {"bay_id": world.stores["B"].workshop.bay_ids[0]}  # another store's bay
    body.update({k: when[v].isoformat() if k == "starts_at" else v for k, v in change.items()})
    response = world.call("POST", "/api/v1/bookings", json=body)
    assert response.status_code == status, response.text
    if problem:
        assert response.json()["error"]["details"]["problem"] == problem


def test_alert_of_another_vehicle_or_closed_is_refused(world: World, engine: Engine) -> None:
    a, monday = world.stores["A"], next_monday()
    with engine.begin() as conn:
        conn.execute(update(alerts).where(alerts.c.id == a.alert_id).values(state="dismissed", dismiss_reason="sold"))
    closed = world.call("POST", "/api/v1/bookings", json=booking_body(a, at(monday, 10), alert_id=a.alert_id))
    assert closed.status_code == 409
    assert closed.json()["error"]["details"]["alert_state"] == "dismissed"
    other = world.call("POST", "/api/v1/bookings",
                       json=booking_body(a, at(monday, 10), alert_id=world.stores["B"].alert_id))  # fmt: skip
    assert other.status_code == 404


def test_roles_and_tenancy(world: World) -> None:
    a, b, monday = world.stores["A"], world.stores["B"], next_monday()
    for role in (Role.TECHNICIAN, Role.INTEGRATION):
        response = world.call("POST", "/api/v1/bookings", role=role, json=booking_body(a, at(monday, 10)))
        assert response.status_code == 403, role
    created = world.call("POST", "/api/v1/bookings", role=Role.GROUP_ADMIN, json=booking_body(a, at(monday, 10)))
    assert created.status_code == 201, created.text
    booking_id = created.json()["id"]
    assert world.call("GET", f"/api/v1/bookings/{booking_id}", role=Role.INTEGRATION).status_code == 200
    assert world.call("GET", f"/api/v1/bookings/{booking_id}", store="B").status_code == 404
    assert (
        world.call("POST", f"/api/v1/bookings/{booking_id}/cancel", store="B", json={"reason": "nope"}).status_code
        == 404
    )
    assert world.call("GET", "/api/v1/bookings", store="B").json()["items"] == []
    into_a = world.call("POST", "/api/v1/bookings", store="B", json=booking_body(a, at(monday, 11)))
    assert into_a.status_code == 404  # A's vehicle is not B's
    slots_of_a = {"op_code": BATTERY_OP, "vehicle_id": a.vehicle_id}
    assert world.call("POST", "/api/v1/bookings/slots", store="X", json=slots_of_a).status_code == 404
    assert world.call("GET", f"/api/v1/alerts/{b.alert_id}/slots").status_code == 404


def test_list_filters_and_pages(world: World) -> None:
    a, monday = world.stores["A"], next_monday()
    ids = [
        world.call("POST", "/api/v1/bookings", json=booking_body(a, at(monday, h))).json()["id"] for h in (11, 9, 10)
    ]
    world.call("POST", f"/api/v1/bookings/{ids[0]}/cancel", json={"reason": "changed mind"})
    first = world.call("GET", "/api/v1/bookings", role=Role.TECHNICIAN, params={"limit": 2}).json()
    assert [x["id"] for x in first["items"]] == [ids[1], ids[2]]  # by start time
    rest = world.call("GET", "/api/v1/bookings", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [x["id"] for x in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    confirmed = world.call("GET", "/api/v1/bookings", params={"state": "confirmed"}).json()["items"]
    assert [x["id"] for x in confirmed] == [ids[1], ids[2]]
    window = {"from": at(monday, 9, 30).isoformat(), "to": at(monday, 12).isoformat()}
    assert [x["id"] for x in world.call("GET", "/api/v1/bookings", params=window).json()["items"]] == [ids[2], ids[0]]
    in_a = world.call("GET", "/api/v1/bookings", role=Role.GROUP_ADMIN, params={"store_id": a.store_id}).json()
    assert len(in_a["items"]) == 3
    assert world.call("GET", "/api/v1/bookings", params={"store_id": world.stores["B"].store_id}).json()["items"] == []
    other_tech = {"technician_id": a.workshop.technician_ids[1]}
    assert world.call("GET", "/api/v1/bookings", params=other_tech).json()["items"] == []
    assert world.call("GET", "/api/v1/bookings", params={"cursor": "garbage"}).status_code == 422


def test_proposal_inputs_read_twenty_technicians_and_two_weeks_in_four_queries(world: World, engine: Engine) -> None:
    a, monday = world.stores["A"], next_monday()
    with engine.begin() as conn:
        for i in range(16):
            new = insert(technicians).values(store_id=a.store_id, name=f"extra {i}", skills=["electrical"])
            tech = conn.scalar(new.returning(technicians.c.id))
            week = [{"technician_id": tech, "weekday": d, "starts_at": OPENS, "ends_at": CLOSES} for d in range(1, 7)]
            conn.execute(insert(technician_shifts), week)
        electricians = [
            electrician(a),
            *conn.scalars(select(technicians.c.id).where(technicians.c.name.like("extra%"))),
        ]
        for day in range(14):  # each electrician busy for half an hour a day, one after another
            for n, tech in enumerate(electricians):
                start = at(monday + timedelta(days=day), 8, 30) + timedelta(minutes=30 * n)
                conn.execute(insert(bookings).values(
                    store_id=a.store_id, vehicle_id=a.vehicle_id, op_code=BATTERY_OP, technician_id=tech,
                    bay_id=a.workshop.bay_ids[0], starts_at=start, ends_at=start + timedelta(minutes=30),
                    state="confirmed", created_by="bench",
                ))  # fmt: skip
    statements: list[str] = []
    with engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
        started = time.perf_counter()
        inputs = proposal_inputs(conn, store_id=a.store_id, op_code=BATTERY_OP, earliest=at(monday, 0),
                                 now=datetime.now(UTC))  # fmt: skip
        slots = inputs.slots(5)
        print(f"proposal for 20 technicians and 2 weeks: {1000 * (time.perf_counter() - started):.1f} ms")
    assert len(statements) <= 4
    assert len(inputs.capacity.technicians) == 17  # the electricians, active, of this store only
    assert sum(len(p) for p in inputs.capacity.technician_busy.values()) == 14 * 17
    assert (slots[0].starts_at, slots[0].technician_id) == (at(monday, 8, 30), electricians[1])
    assert slots[0].bay_id == a.workshop.bay_ids[1]  # bay 1 holds the first electrician's job
