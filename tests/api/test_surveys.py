"""The customer's satisfaction survey against a real database: public link, language, answer once,
nothing else leaks, the result on the work order."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, update

from api.tenancy import Role
from store.db import make_engine
from store.service_tables import outbox, surveys
from store.tables import customers
from tests.api_world import World


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    instance = make_engine(db_url)
    yield instance
    instance.dispose()


def close_walk_in(world: World, store: str = "A") -> tuple[int, str]:
    """Take a walk-in for the store's car through to closed; return its id and the survey's API path
    (the customer's link is the page `/survey/<token>`, whose script calls this path)."""
    body = {
        "vehicle_id": world.stores[store].vehicle_id,
        "complaint": "battery light on",
        "op_code": "BAT-TEST-REPLACE",
    }
    wo_id = world.call("POST", "/api/v1/work-orders", store=store, json=body).json()["id"]
    facts = {"findings": "battery failed load test", "labour_hours": 0.5}
    assert world.call("PATCH", f"/api/v1/work-orders/{wo_id}", store=store, json=facts).status_code == 200
    for state in ("diagnosis", "repair", "quality_check", "settlement", "closed"):
        moved = world.call("POST", f"/api/v1/work-orders/{wo_id}/transitions", store=store, json={"to": state})
        assert moved.status_code == 200, moved.text
    link: str = moved.json()["survey_link"]
    assert link.startswith("/survey/")
    page = world.app_client.get(link)  # the customer's page: no credentials, the app's own script only
    assert page.status_code == 200 and "survey.js" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    return wo_id, "/api/v1/surveys/" + link.rsplit("/", 1)[1]


def test_survey_in_the_customers_language_shows_nothing_private(world: World, engine: Engine) -> None:
    b = world.stores["B"]
    with engine.begin() as conn:
        conn.execute(update(customers).where(customers.c.id == b.customer_id).values(preferred_language="en"))
    _, link = close_walk_in(world, "B")
    response = world.app_client.get(link)  # no credentials: the customer opens the link from a message
    assert response.status_code == 200, response.text
    page = response.json()
    assert page == {
        "store_name": "Store B",
        "language": "en",
        "vehicle": {"make": "VW", "model": "Lavida", "year": 2021},
        "operation": {"op_code": "BAT-TEST-REPLACE", "name": "Battery test and replacement"},
        "questions": page["questions"],
        "answered": False,
    }
    assert [(q["id"], q["kind"], q["min"], q["max"]) for q in page["questions"]] == [
        ("score", "scale", 1, 10),
        ("comment", "text", None, None),
    ]
    assert page["questions"][0]["text"].startswith("How likely")
    for private in (b.vin, "Customer B", "13800000002", "cb@example.com", "battery failed load test"):
        assert private not in response.text


def test_chinese_by_default_and_answered_once(world: World, engine: Engine) -> None:
    wo_id, link = close_walk_in(world)
    page = world.app_client.get(link).json()
    assert page["language"] == "zh" and page["operation"]["name"] == "蓄电池检测与更换"
    assert "推荐" in page["questions"][0]["text"]
    assert world.app_client.post(link, json={"score": 0}).status_code == 422
    assert world.app_client.post(link, json={"score": 11}).status_code == 422
    answer = world.app_client.post(link, json={"score": 8, "comment": "  等待时间稍长  "})
    assert answer.status_code == 200, answer.text
    assert answer.json()["comment"] == "等待时间稍长" and answer.json()["message"] == "感谢您的评价！"
    again = world.app_client.post(link, json={"score": 10})
    assert again.status_code == 409 and again.json()["error"]["code"] == "survey_answered"
    assert world.app_client.get(link).json()["answered"] is True
    survey = world.call("GET", f"/api/v1/work-orders/{wo_id}", role=Role.TECHNICIAN).json()["survey"]
    assert (survey["score"], survey["comment"], survey["language"]) == (8, "等待时间稍长", "zh")
    with engine.connect() as conn:
        answered = conn.execute(select(outbox).where(outbox.c.event_type == "survey.answered")).one()
    assert answered.payload == {"work_order_id": wo_id, "score": 8, "comment": "等待时间稍长"}


def test_unknown_token_is_404_and_only_the_hash_is_stored(world: World, engine: Engine) -> None:
    wo_id, link = close_walk_in(world)
    token = link.rsplit("/", 1)[1]
    forged = "/api/v1/surveys/" + token[:-2] + ("aa" if not token.endswith("aa") else "bb")
    assert world.app_client.get(forged).status_code == 404
    assert world.app_client.post(forged, json={"score": 5}).status_code == 404
    with engine.connect() as conn:
        row = conn.execute(select(surveys).where(surveys.c.work_order_id == wo_id)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(tuple(row))


def test_an_open_work_order_has_no_survey_yet(world: World) -> None:
    body = {"vehicle_id": world.stores["A"].vehicle_id, "complaint": "noise"}
    wo_id = world.call("POST", "/api/v1/work-orders", json=body).json()["id"]
    assert world.call("GET", f"/api/v1/work-orders/{wo_id}").json()["survey"] is None
