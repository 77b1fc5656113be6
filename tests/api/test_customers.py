"""Customers through the API against a real database: create, read with vehicles, change, search, roles."""

from __future__ import annotations

from typing import Any

from api.tenancy import Role
from tests.api_world import World

NEW = {
    "name": "王芳",
    "phone": "138 1234 5678",
    "preferred_language": "zh",
    "preferred_channel": "wechat",
    "wechat_id": "wangfang_88",
    "consent_proactive_contact": True,
}


def create(world: World, body: dict[str, Any], **kw: Any) -> Any:
    return world.call("POST", "/api/v1/customers", json=body, **kw)


def test_create_read_and_change_a_customer(world: World) -> None:
    created = create(world, NEW, role=Role.SERVICE_ADVISOR)
    assert created.status_code == 201, created.text
    customer = created.json()
    assert customer["store_id"] == world.stores["A"].store_id
    assert (customer["consent_proactive_contact"], customer["consent_telematics"]) == (True, False)
    path = f"/api/v1/customers/{customer['id']}"
    changed = world.call("PATCH", path, json={"preferred_language": "en", "consent_telematics": True}).json()
    assert (changed["preferred_language"], changed["consent_telematics"], changed["wechat_id"]) == (
        "en", True, "wangfang_88",
    )  # fmt: skip
    read = world.call("GET", path, role=Role.INTEGRATION).json()
    assert read["preferred_language"] == "en" and read["vehicles"] == []


def test_customer_detail_lists_their_vehicles(world: World) -> None:
    a = world.stores["A"]
    detail = world.call("GET", f"/api/v1/customers/{a.customer_id}").json()
    assert [(v["id"], v["vin"]) for v in detail["vehicles"]] == [(a.vehicle_id, a.vin)]


def test_refuses_contact_details_that_cannot_reach_the_customer(world: World) -> None:
    assert create(world, {**NEW, "wechat_id": None}).status_code == 422  # wechat without an id
    assert create(world, {**NEW, "preferred_language": "fr"}).status_code == 422
    assert create(world, {**NEW, "phone": "call me"}).status_code == 422
    assert create(world, {**NEW, "name": "  "}).status_code == 422
    customer_id = world.stores["A"].customer_id  # prefers sms (the default) and has a phone
    clear_phone = world.call("PATCH", f"/api/v1/customers/{customer_id}", json={"phone": None})
    assert clear_phone.status_code == 422
    assert "phone" in clear_phone.json()["error"]["message"]
    by_email = world.call(
        "PATCH", f"/api/v1/customers/{customer_id}", json={"phone": None, "preferred_channel": "email"}
    )
    assert by_email.status_code == 200 and by_email.json()["phone"] is None
    assert world.call("PATCH", f"/api/v1/customers/{customer_id}", json={"name": None}).status_code == 422


def test_search_by_name_or_phone_and_page(world: World) -> None:
    first = create(world, NEW).json()
    second = create(world, {**NEW, "name": "Wang Lei", "phone": "13900001111"}).json()
    assert [c["id"] for c in world.call("GET", "/api/v1/customers", params={"q": "王"}).json()["items"]] == [
        first["id"]
    ]
    by_phone = world.call("GET", "/api/v1/customers", params={"q": "1381234"}).json()["items"]
    assert [c["id"] for c in by_phone] == [first["id"]]  # spaces in the stored number do not matter
    assert [c["id"] for c in world.call("GET", "/api/v1/customers", params={"q": "wang"}).json()["items"]] == [
        second["id"]
    ]
    assert world.call("GET", "/api/v1/customers", params={"q": "%"}).json()["items"] == []
    page = world.call("GET", "/api/v1/customers", params={"limit": 2}).json()
    rest = world.call("GET", "/api/v1/customers", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    ids = [c["id"] for c in page["items"] + rest["items"]]
    assert ids == sorted({world.stores["A"].customer_id, first["id"], second["id"]})


def test_roles_and_stores(world: World) -> None:
    b = world.stores["B"]
    assert world.call("GET", "/api/v1/customers", role=Role.TECHNICIAN).status_code == 403
    assert create(world, NEW, role=Role.INTEGRATION).status_code == 403
    assert world.call("GET", f"/api/v1/customers/{b.customer_id}").status_code == 404
    assert world.call("PATCH", f"/api/v1/customers/{b.customer_id}", json={"name": "x"}).status_code == 404
    assert create(world, {**NEW, "store_id": b.store_id}).status_code == 404
    assert create(world, NEW, role=Role.GROUP_ADMIN).status_code in (404, 422)  # group-wide: pick a store
    for_b = create(world, {**NEW, "store_id": b.store_id}, role=Role.GROUP_ADMIN)
    assert for_b.status_code == 201 and for_b.json()["store_id"] == b.store_id
    listed = world.call("GET", "/api/v1/customers", role=Role.INTEGRATION, store="B").json()["items"]
    assert {c["store_id"] for c in listed} == {b.store_id}


def test_withdrawing_telematics_consent_revokes_the_devices_of_their_cars(world: World) -> None:
    a = world.stores["A"]
    device_id = world.call("POST", f"/api/v1/vehicles/{a.vehicle_id}/devices").json()["device_id"]
    before = world.call("GET", f"/api/v1/customers/{a.customer_id}").json()
    assert before["vehicles"][0]["device_id"] == device_id
    withdrawn = world.call(
        "PATCH", f"/api/v1/customers/{a.customer_id}", json={"consent_telematics": False}, role=Role.SERVICE_ADVISOR
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["vehicles"][0]["device_id"] is None
    device = world.call("GET", f"/api/v1/vehicles/{a.vehicle_id}/device").json()
    assert device["device_id"] == device_id and device["revoked"] is True
    assert world.call("POST", f"/api/v1/vehicles/{a.vehicle_id}/devices").status_code == 409  # no consent
