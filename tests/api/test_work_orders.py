"""Work orders through the API against a real database: from a booking to closed, with the alert's
label reaching prediction; refused moves, roles, parts and stock, one work order per booking."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update

from api.tenancy import Role
from predict import alerts as lifecycle
from predict.alerts import AlertState, LabelOutcome
from store.db import make_engine
from store.service_tables import bookings, outbox, part_reservations, part_stock, surveys
from tests.api_world import StoreWorld, World

BATTERY = "BAT-12V-60AH"
FILTER = "FILTER-OIL"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    instance = make_engine(db_url)
    yield instance
    instance.dispose()


def book(
    engine: Engine,
    store: StoreWorld,
    *,
    with_alert: bool = True,
    reserve: Sequence[tuple[str, int]] = ((BATTERY, 1),),
    slot: int = 0,
    state: str = "confirmed",
) -> int:
    """Insert a confirmed booking with part reservations, as the booking routes would leave it."""
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1, hours=slot)
    with engine.begin() as conn:
        booking_id = int(
            conn.scalar(
                insert(bookings)
                .values(
                    store_id=store.store_id,
                    vehicle_id=store.vehicle_id,
                    alert_id=store.alert_id if with_alert else None,
                    op_code="BAT-TEST-REPLACE",
                    technician_id=store.workshop.technician_ids[0],
                    bay_id=store.workshop.bay_ids[0],
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=30),
                    state=state,
                    note="battery warning from pitcall",
                    created_by="user:service_advisor",
                )
                .returning(bookings.c.id)
            )
        )
        for part_no, qty in reserve:
            conn.execute(
                insert(part_reservations).values(
                    booking_id=booking_id, store_id=store.store_id, part_no=part_no, qty=qty,
                    available_on=starts.date(),
                )
            )  # fmt: skip
            stock = part_stock.c
            where = (stock.store_id == store.store_id) & (stock.part_no == part_no)
            conn.execute(update(part_stock).where(where).values(reserved=stock.reserved + qty))
        if with_alert:
            lifecycle.transition(conn, store.alert_id, AlertState.BOOKED, actor="user:advisor", at=datetime.now(UTC))
    return booking_id


def stock_of(engine: Engine, store: StoreWorld, part_no: str) -> tuple[int, int]:
    """Return (on_hand, reserved) of a part in a store."""
    with engine.connect() as conn:
        row = conn.execute(
            select(part_stock.c.on_hand, part_stock.c.reserved).where(
                part_stock.c.store_id == store.store_id, part_stock.c.part_no == part_no
            )
        ).one()
    return row.on_hand, row.reserved


def events(engine: Engine, prefix: str) -> list[Any]:
    with engine.connect() as conn:
        query = select(outbox).where(outbox.c.event_type.startswith(prefix)).order_by(outbox.c.id)
        return list(conn.execute(query))


def move(world: World, work_order_id: int, to: str, role: Role = Role.SERVICE_ADVISOR, **kwargs: Any) -> Any:
    return world.call("POST", f"/api/v1/work-orders/{work_order_id}/transitions", role=role, json={"to": to, **kwargs})


def walk_in(world: World, store: str = "A", **extra: Any) -> dict[str, Any]:
    body = {"vehicle_id": world.stores[store].vehicle_id, "complaint": "engine shakes at idle", **extra}
    response = world.call("POST", "/api/v1/work-orders", store=store, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_booking_to_closed_to_survey_with_the_label_visible_to_prediction(world: World, engine: Engine) -> None:
    a = world.stores["A"]
    booking_id = book(engine, a, reserve=[(BATTERY, 1), (FILTER, 1)])
    created = world.call("POST", f"/api/v1/bookings/{booking_id}/work-order", role=Role.SERVICE_ADVISOR)
    assert created.status_code == 201, created.text
    wo = created.json()
    wo_id = wo["id"]
    assert (wo["state"], wo["vehicle_id"], wo["alert_id"], wo["op_code"]) == (
        "check_in", a.vehicle_id, a.alert_id, "BAT-TEST-REPLACE"
    )  # fmt: skip
    assert wo["technician_id"] == a.workshop.technician_ids[0]
    assert wo["evidence"] == {"index": [1.0, 1.4, 2.2], "threshold": 2.0}
    assert [(p["part_no"], p["qty"], p["state"]) for p in wo["planned_parts"]] == [(BATTERY, 1, "reserved"),
                                                                                 (FILTER, 1, "reserved")]  # fmt: skip
    assert wo["allowed_transitions"] == ["diagnosis", "cancelled"]
    with engine.connect() as conn:
        assert conn.scalar(select(bookings.c.state).where(bookings.c.id == booking_id)) == "in_service"

    assert move(world, wo_id, "diagnosis", Role.TECHNICIAN).status_code == 200
    no_findings = move(world, wo_id, "repair", Role.TECHNICIAN)
    assert no_findings.status_code == 422
    assert no_findings.json()["error"]["code"] == "incomplete_transition"
    assert no_findings.json()["error"]["details"]["missing"] == ["findings"]
    findings = {"findings": "静置电压 11.6V，负载测试不合格", "labour_hours": 0.5, "alert_outcome": "confirmed"}
    patched = world.call("PATCH", f"/api/v1/work-orders/{wo_id}", role=Role.TECHNICIAN, json=findings)
    assert patched.status_code == 200, patched.text
    assert move(world, wo_id, "repair", Role.TECHNICIAN).status_code == 200

    fitted = world.call("POST", f"/api/v1/work-orders/{wo_id}/parts", role=Role.TECHNICIAN,
                        json={"part_no": BATTERY, "qty": 1})  # fmt: skip
    assert fitted.status_code == 200, fitted.text
    assert [p["state"] for p in fitted.json()["planned_parts"]] == ["consumed", "reserved"]
    assert fitted.json()["parts"][0]["reservation_id"] == fitted.json()["planned_parts"][0]["reservation_id"]
    assert stock_of(engine, a, BATTERY) == (4, 0)

    assert move(world, wo_id, "quality_check", Role.TECHNICIAN).status_code == 200
    assert move(world, wo_id, "repair", Role.SERVICE_MANAGER, note="terminal clamp loose").status_code == 200
    assert move(world, wo_id, "quality_check", Role.TECHNICIAN).status_code == 200
    assert move(world, wo_id, "settlement").status_code == 200
    assert move(world, wo_id, "closed", Role.TECHNICIAN).status_code == 403
    closed = move(world, wo_id, "closed")
    assert closed.status_code == 200, closed.text
    done = closed.json()
    assert done["state"] == "closed" and done["closed_at"] is not None
    assert [t["to_state"] for t in done["transitions"]] == [
        "check_in", "diagnosis", "repair", "quality_check", "repair", "quality_check", "settlement", "closed"
    ]  # fmt: skip
    assert done["transitions"][4] | {"at": None} == {
        "from_state": "quality_check", "to_state": "repair", "at": None, "actor": "user:service_manager_a",
        "note": "terminal clamp loose",
    }  # fmt: skip

    with engine.connect() as conn:
        label = next(x for x in lifecycle.labels(conn) if x.alert_id == a.alert_id)
        assert label.outcome is LabelOutcome.CONFIRMED
        assert lifecycle.get_alert(conn, a.alert_id).closed_by == "user:service_advisor_a"
        assert conn.scalar(select(bookings.c.state).where(bookings.c.id == booking_id)) == "completed"
    assert [p["state"] for p in done["planned_parts"]] == ["consumed", "released"]
    assert stock_of(engine, a, FILTER) == (5, 0)

    link = done["survey_link"]
    assert link.startswith("/survey/")
    token = link.rsplit("/", 1)[1]
    with engine.connect() as conn:
        assert conn.scalar(select(surveys.c.token_hash).where(surveys.c.work_order_id == wo_id)) == (
            hashlib.sha256(token.encode()).hexdigest()
        )
    closed_event = events(engine, "work_order.closed")[0].payload
    assert (closed_event["labour_hours"], closed_event["alert_outcome"]) == (0.5, "confirmed")
    (sent,) = events(engine, "survey.sent")
    assert sent.payload["link_path"] == link and sent.payload["language"] == "zh"
    assert [e.event_type for e in events(engine, "work_order.")] == [
        "work_order.created", "work_order.diagnosis", "work_order.repair", "work_order.quality_check",
        "work_order.repair", "work_order.quality_check", "work_order.settlement", "work_order.closed",
    ]  # fmt: skip
    assert "survey_link" not in world.call("GET", f"/api/v1/work-orders/{wo_id}").json()  # shown once only

    link = f"/api/v1/surveys/{token}"  # what the customer's page (/survey/<token>) calls
    page = world.app_client.get(link).json()
    assert page["store_name"] == "Store A" and page["operation"]["name"] == "蓄电池检测与更换"
    answered = world.app_client.post(link, json={"score": 9, "comment": "很专业"})
    assert answered.status_code == 200, answered.text
    assert world.app_client.post(link, json={"score": 1}).status_code == 409
    survey = world.call("GET", f"/api/v1/work-orders/{wo_id}", role=Role.INTEGRATION).json()["survey"]
    assert (survey["score"], survey["comment"]) == (9, "很专业") and survey["answered_at"] is not None


def test_refused_transitions_answer_409_with_the_allowed_states(world: World, engine: Engine) -> None:
    wo = walk_in(world)
    refused = move(world, wo["id"], "closed")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "invalid_transition"
    assert error["details"]["state"] == "check_in"
    assert error["details"]["allowed"] == ["diagnosis", "cancelled"]
    assert move(world, wo["id"], "bogus").status_code == 422

    no_reason = move(world, wo["id"], "cancelled")
    assert no_reason.status_code == 422
    assert no_reason.json()["error"]["details"]["missing"] == ["note (the reason for cancelling)"]
    assert move(world, wo["id"], "cancelled", note="customer declined").status_code == 200
    after = move(world, wo["id"], "diagnosis")
    assert after.status_code == 409
    assert after.json()["error"]["details"] == {"state": "cancelled", "requested": "diagnosis", "allowed": []}
    final = world.call("PATCH", f"/api/v1/work-orders/{wo['id']}", json={"findings": "late"})
    assert final.status_code == 409 and final.json()["error"]["code"] == "work_order_final"
    assert world.call("GET", f"/api/v1/work-orders/{wo['id']}").json()["transitions"][-1]["note"] == "customer declined"


def test_closing_an_alert_work_order_needs_the_outcome_and_labour(world: World, engine: Engine) -> None:
    a = world.stores["A"]
    wo_id = world.call("POST", f"/api/v1/bookings/{book(engine, a)}/work-order").json()["id"]
    world.call("PATCH", f"/api/v1/work-orders/{wo_id}", json={"findings": "battery fine, 12.6 V"})
    for state in ("diagnosis", "repair", "quality_check", "settlement"):
        assert move(world, wo_id, state).status_code == 200, state
    refused = move(world, wo_id, "closed")
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["missing"] == ["labour_hours", "alert_outcome"]
    world.call("PATCH", f"/api/v1/work-orders/{wo_id}", json={"labour_hours": 0.3, "alert_outcome": "not_found"})
    assert move(world, wo_id, "closed").status_code == 200
    with engine.connect() as conn:
        label = next(x for x in lifecycle.labels(conn) if x.alert_id == a.alert_id)
    assert label.outcome is LabelOutcome.NOT_FOUND


def test_cancelling_a_booked_work_order_releases_its_parts(world: World, engine: Engine) -> None:
    a = world.stores["A"]
    booking_id = book(engine, a, reserve=[(BATTERY, 2)])
    assert stock_of(engine, a, BATTERY) == (5, 2)
    wo_id = world.call("POST", f"/api/v1/bookings/{booking_id}/work-order").json()["id"]
    assert move(world, wo_id, "cancelled", note="customer sold the car").status_code == 200
    assert stock_of(engine, a, BATTERY) == (5, 0)
    with engine.connect() as conn:
        assert conn.scalar(select(bookings.c.state).where(bookings.c.id == booking_id)) == "completed"
        assert lifecycle.get_alert(conn, a.alert_id).state is AlertState.ACKNOWLEDGED  # still live, not a label
        assert lifecycle.history(conn, a.alert_id)[-1].note == f"work order {wo_id} cancelled: customer sold the car"


def test_one_work_order_per_booking(world: World, engine: Engine) -> None:
    booking_id = book(engine, world.stores["A"])
    first = world.call("POST", f"/api/v1/bookings/{booking_id}/work-order")
    assert first.status_code == 201
    second = world.call("POST", f"/api/v1/bookings/{booking_id}/work-order", role=Role.SERVICE_ADVISOR)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "work_order_exists"
    assert second.json()["error"]["details"]["work_order_id"] == first.json()["id"]
    listed = world.call("GET", "/api/v1/work-orders").json()["items"]
    assert [x["booking_id"] for x in listed] == [booking_id]


def test_two_advisors_checking_in_one_booking_at_once_get_one_work_order(world: World, engine: Engine) -> None:
    booking_id = book(engine, world.stores["A"])
    path = f"/api/v1/bookings/{booking_id}/work-order"
    roles = (Role.SERVICE_ADVISOR, Role.SERVICE_MANAGER)
    for role in roles:
        world.headers(role)  # log in first, so both requests race on the booking only
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(lambda role: world.call("POST", path, role=role), roles))
    assert sorted(r.status_code for r in responses) == [201, 409]
    created = next(r for r in responses if r.status_code == 201).json()
    refused = next(r for r in responses if r.status_code == 409).json()
    assert refused["error"]["details"]["work_order_id"] == created["id"]


def test_only_a_confirmed_booking_is_checked_in(world: World, engine: Engine) -> None:
    booking_id = book(engine, world.stores["A"], with_alert=False, state="proposed", reserve=())
    refused = world.call("POST", f"/api/v1/bookings/{booking_id}/work-order")
    assert refused.status_code == 409
    assert refused.json()["error"]["details"] == {"state": "proposed", "required": "confirmed"}


def test_roles(world: World, engine: Engine) -> None:
    wo = walk_in(world)
    path = f"/api/v1/work-orders/{wo['id']}"
    assert world.call("GET", path, role=Role.INTEGRATION).status_code == 200
    assert world.call("GET", "/api/v1/work-orders", role=Role.INTEGRATION).json()["items"][0]["id"] == wo["id"]
    body = {"vehicle_id": world.stores["A"].vehicle_id, "complaint": "noise"}
    assert world.call("POST", "/api/v1/work-orders", role=Role.INTEGRATION, json=body).status_code == 403
    assert move(world, wo["id"], "diagnosis", Role.INTEGRATION).status_code == 403
    assert world.call("POST", "/api/v1/work-orders", role=Role.TECHNICIAN, json=body).status_code == 201
    assert world.call("POST", "/api/v1/work-orders", role=Role.GROUP_ADMIN, json=body).status_code == 201
    booking_id = book(engine, world.stores["A"], with_alert=False)
    integration = world.call("POST", f"/api/v1/bookings/{booking_id}/work-order", role=Role.INTEGRATION)
    assert integration.status_code == 403

    assert move(world, wo["id"], "cancelled", Role.TECHNICIAN, note="no").status_code == 403
    assert move(world, wo["id"], "diagnosis", Role.TECHNICIAN).status_code == 200
    desk = world.call("PATCH", path, role=Role.TECHNICIAN, json={"findings": "coil 2 open", "amount_cny": 1.0})
    assert desk.status_code == 403 and desk.json()["error"]["details"]["fields"] == ["amount_cny"]
    own = world.call("PATCH", path, role=Role.TECHNICIAN, json={"findings": "coil 2 open", "labour_hours": 1.0})
    assert own.status_code == 200 and own.json()["findings"] == "coil 2 open"
    tech = world.stores["A"].workshop.technician_ids[1]
    assigned = world.call("PATCH", path, role=Role.SERVICE_ADVISOR, json={"technician_id": tech, "amount_cny": 680})
    assert assigned.json()["technician_id"] == tech and assigned.json()["amount_cny"] == 680
    other_store_tech = world.stores["B"].workshop.technician_ids[0]
    assert world.call("PATCH", path, json={"technician_id": other_store_tech}).status_code == 422


def test_other_stores_see_404(world: World, engine: Engine) -> None:
    wo = walk_in(world)
    booking_id = book(engine, world.stores["A"], with_alert=False)
    for store in ("B", "X"):
        assert world.call("GET", f"/api/v1/work-orders/{wo['id']}", store=store).status_code == 404
        assert world.call("POST", f"/api/v1/work-orders/{wo['id']}/transitions", store=store,
                          json={"to": "cancelled", "note": "x"}).status_code == 404  # fmt: skip
        assert world.call("POST", f"/api/v1/bookings/{booking_id}/work-order", store=store).status_code == 404
        assert world.call("GET", "/api/v1/work-orders", store=store).json()["items"] == []
        body = {"vehicle_id": world.stores["A"].vehicle_id, "complaint": "x"}
        assert world.call("POST", "/api/v1/work-orders", store=store, json=body).status_code == 404


def test_parts_from_free_stock_and_never_from_others_reservations(world: World, engine: Engine) -> None:
    a = world.stores["A"]
    book(engine, a, with_alert=False, reserve=[(FILTER, 2)])  # another car holds 2 of the 5 filters
    wo = walk_in(world)
    parts_path = f"/api/v1/work-orders/{wo['id']}/parts"
    fitted = world.call("POST", parts_path, json={"part_no": FILTER, "qty": 3})
    assert fitted.status_code == 200, fitted.text
    assert fitted.json()["parts"][0] | {"id": 0} == {"id": 0, "part_no": FILTER, "qty": 3, "reservation_id": None}
    assert stock_of(engine, a, FILTER) == (2, 2)
    short = world.call("POST", parts_path, json={"part_no": FILTER, "qty": 1})
    assert short.status_code == 409
    assert short.json()["error"]["code"] == "not_enough_stock"
    assert short.json()["error"]["details"]["free"] == 0
    assert world.call("POST", parts_path, json={"part_no": "NO-SUCH", "qty": 1}).status_code == 422
    assert stock_of(engine, a, FILTER) == (2, 2)


def test_part_of_a_reservation_is_consumed_and_the_rest_released_on_close(world: World, engine: Engine) -> None:
    a = world.stores["A"]
    booking_id = book(engine, a, with_alert=False, reserve=[(FILTER, 3)])
    wo_id = world.call("POST", f"/api/v1/bookings/{booking_id}/work-order").json()["id"]
    fitted = world.call("POST", f"/api/v1/work-orders/{wo_id}/parts", json={"part_no": FILTER, "qty": 1}).json()
    assert sorted((p["qty"], p["state"]) for p in fitted["planned_parts"]) == [(1, "consumed"), (2, "reserved")]
    assert stock_of(engine, a, FILTER) == (4, 2)
    world.call("PATCH", f"/api/v1/work-orders/{wo_id}", json={"findings": "ok", "labour_hours": 0.5})
    for state in ("diagnosis", "repair", "quality_check", "settlement", "closed"):
        assert move(world, wo_id, state).status_code == 200, state
    assert stock_of(engine, a, FILTER) == (4, 0)


def test_list_filters_and_pages(world: World, engine: Engine) -> None:
    a = world.stores["A"]
    techs = a.workshop.technician_ids
    first = walk_in(world, technician_id=techs[0])
    second = walk_in(world, technician_id=techs[1], op_code="IGN-COIL-PLUG")
    third = walk_in(world)
    move(world, second["id"], "diagnosis")
    assert walk_in(world, "B")["store_id"] == world.stores["B"].store_id
    page = world.call("GET", "/api/v1/work-orders", params={"limit": 2}).json()
    assert [x["id"] for x in page["items"]] == [third["id"], second["id"]]
    rest = world.call("GET", "/api/v1/work-orders", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [x["id"] for x in rest["items"]] == [first["id"]] and rest["next_cursor"] is None
    by_state = world.call("GET", "/api/v1/work-orders", params={"state": "diagnosis"}).json()["items"]
    assert [x["id"] for x in by_state] == [second["id"]]
    by_tech = world.call("GET", "/api/v1/work-orders", params={"technician_id": techs[0]}).json()["items"]
    assert [x["id"] for x in by_tech] == [first["id"]]
    by_vehicle = world.call("GET", "/api/v1/work-orders", params={"vehicle_id": a.vehicle_id}).json()["items"]
    assert len(by_vehicle) == 3
    assert world.call("GET", "/api/v1/work-orders", params={"cursor": "garbage!"}).status_code == 422
    assert second["operation_name_en"] == "Ignition coil and spark plug replacement"
    assert world.call("POST", "/api/v1/work-orders", json={"vehicle_id": a.vehicle_id, "complaint": "x",
                                                          "op_code": "NOPE"}).status_code == 422  # fmt: skip
