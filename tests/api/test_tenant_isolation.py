"""Tenant isolation across every route, found from the app itself (a new route is checked without
editing this file, or the test fails asking for its path parameter).

A person or key of store A that reads, lists or changes anything of store B gets 404 (never B's data),
and the refused writes leave the database exactly as it was; store B's own manager reading the same URL
does not get 404 (so the ids really are B's). The alert stream is read for its content: replayed from
the first event, and live on the real server while store B's people work.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from api.tenancy import Role
from store.db import make_engine
from tests.api.server import Event, EventReader, parse_events, running_api
from tests.api_world import Ids, World, store_resources

ROLES = (Role.SERVICE_MANAGER, Role.SERVICE_ADVISOR, Role.TECHNICIAN, Role.INTEGRATION)
PUBLIC_PREFIXES = ("/api/v1/auth/token", "/api/v1/surveys/")
STREAM = "/api/v1/events/alerts"


def _example(schema: dict[str, Any], spec: dict[str, Any], name: str, ids: Ids) -> Any:
    """Build a minimal valid value for `schema`, with B's ids for fields named like them."""
    if "$ref" in schema:
        return _example(spec["components"]["schemas"][schema["$ref"].split("/")[-1]], spec, name, ids)
    if name in ids:
        return ids[name]
    example = schema["examples"][0] if schema.get("examples") else None
    if isinstance(example, dict) and "properties" in schema:
        props = schema["properties"]
        return {**example, **{k: _example(props[k], spec, k, ids) for k in props if k in ids}}
    if example is not None:
        return example
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _example(options[0], spec, name, ids)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        wanted = [k for k in props if k in schema.get("required", []) or k in ids]  # B's ids even if optional
        return {k: _example(props[k], spec, k, ids) for k in wanted}
    if kind == "array":
        return [_example(schema.get("items", {}), spec, name, ids)] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return max(1.0, float(schema.get("minimum", 1.0)))
    if kind == "boolean":
        return True
    if schema.get("format") == "date-time":
        return (datetime.now(UTC) + timedelta(days=1)).isoformat()
    if schema.get("format") == "date":
        return (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    return "x" * max(3, int(schema.get("minLength", 3)))


def _routes(spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every authenticated operation of the OpenAPI spec (the app's own list of routes)."""
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1/") or path.startswith(PUBLIC_PREFIXES):
            continue
        for method, operation in sorted(operations.items()):
            if operation.get("security"):
                yield path, method.upper()


def _request(spec: dict[str, Any], path: str, method: str, ids: Ids) -> dict[str, Any]:
    operation = spec["paths"][path][method.lower()]
    url = path
    query: dict[str, Any] = {}
    for param in operation.get("parameters", []):
        if param["in"] == "path":
            assert param["name"] in ids, f"{method} {path}: add path parameter {param['name']!r} to the test"
            url = url.replace("{" + param["name"] + "}", str(ids[param["name"]]))
        elif param["in"] == "query" and (param.get("required") or param["name"] in ("store_id", "max_seconds")):
            query[param["name"]] = _example(param.get("schema", {}), spec, param["name"], ids)
    request: dict[str, Any] = {"method": method, "url": url, "params": query}
    body = operation.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        request["json"] = _example(body["application/json"]["schema"], spec, "body", ids)
    return request


def _first_allowed(world: World, request: dict[str, Any], store: str) -> tuple[Role | None, Any]:
    response = None
    for role in ROLES:
        extra = {"json": request["json"]} if "json" in request else {}
        response = world.call(
            request["method"], request["url"], role=role, store=store, params=request["params"], **extra
        )
        if response.status_code != 403:
            return role, response
    return None, response


def _store_ids_in(payload: Any) -> Iterator[int]:
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "store_id" and isinstance(value, int):
                yield value
            else:
                yield from _store_ids_in(value)
    elif isinstance(payload, list):
        for item in payload:
            yield from _store_ids_in(item)


@pytest.fixture
def b_ids(world: World, db_url: str) -> Ids:
    return store_resources(db_url, world.stores["B"])


def _database(db_url: str) -> dict[str, list[str]]:
    """Every row of every table, as sorted JSON text per table."""
    engine = make_engine(db_url)
    with engine.connect() as conn:
        tables = conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).all()
        found = {t: sorted(conn.scalars(text(f'SELECT to_jsonb(r)::text FROM "{t}" r')).all()) for t in tables}
    engine.dispose()
    return found


def _replayed_stream(world: World, role: Role, store: str) -> list[Event]:
    """The caller's alert stream from the first event on (Last-Event-ID 0), closed after half a second."""
    headers = world.headers(role, store) | {"Last-Event-ID": "0"}
    response = world.app_client.get(STREAM, headers=headers, params={"max_seconds": 0.5})
    assert response.status_code == 200, response.text
    return parse_events(response.text)


def test_every_route_hides_store_b_from_store_a(world: World, db_url: str, b_ids: Ids) -> None:
    spec = world.app_client.get("/openapi.json").json()
    leaks: list[str] = []
    checked = 0
    for person in ROLES:
        world.headers(person, "A")  # log in first: the walk below must change nothing at all
    before = _database(db_url)
    for path, method in _routes(spec):
        request = _request(spec, path, method, b_ids)
        role, response = _first_allowed(world, request, "A")
        if role is None:
            leaks.append(f"{method} {path}: every role of store A got 403; cannot check")
            continue
        if "{" in path or method != "GET":
            if response.status_code != 404:
                leaks.append(f"{method} {path} as {role} of A -> {response.status_code} {response.text[:200]}")
        elif response.status_code == 200:
            stream = "text/event-stream" in response.headers.get("content-type", "")
            shown = [e.data for e in _replayed_stream(world, role, "A")] if stream else response.json()
            foreign = set(_store_ids_in(shown)) - world.stores["A"].workshop_store_ids()
            if foreign:
                leaks.append(f"GET {path} as {role} of A lists stores {sorted(foreign)}")
        checked += 1
    after = _database(db_url)
    changed = sorted(table for table in before.keys() | after.keys() if before.get(table) != after.get(table))
    assert not leaks and not changed, "\n".join([*leaks, f"refused requests changed the tables {changed}"])
    assert checked >= 5


def test_store_a_replays_no_event_of_store_b(world: World) -> None:
    b = world.stores["B"]
    assert ("alert.raised", b.alert_id) in {
        (e.event, e.data.get("alert_id")) for e in _replayed_stream(world, Role.SERVICE_MANAGER, "B")
    }
    for role in ROLES:
        stores = {e.data["store_id"] for e in _replayed_stream(world, role, "A") if e.event != "ready"}
        assert stores == {world.stores["A"].store_id}, role


def test_store_a_reads_nothing_of_store_b_on_the_live_stream(world: World, db_url: str, tmp_path: Path) -> None:
    """While store B's people work its alerts, store A's open streams (every role) show none of it."""
    b = world.stores["B"]
    with running_api(db_url, log=tmp_path / "api.log", env={"PITCALL_API_EVENT_POLL_S": "0.1"}) as api:
        url = f"{api.base}{STREAM}"
        readers = {role: EventReader(url, headers=world.headers(role, "A"), max_seconds=3) for role in ROLES}
        control = EventReader(url, headers=world.headers(Role.SERVICE_MANAGER, "B"), max_seconds=3)
        for reader in (*readers.values(), control):
            reader.wait_ready()
        acknowledged = world.call(
            "POST", f"/api/v1/alerts/{b.alert_id}/acknowledge", role=Role.SERVICE_ADVISOR, store="B"
        )
        assert acknowledged.status_code == 200, acknowledged.text
        dismissed = world.call(
            "POST", f"/api/v1/alerts/{b.alert_id}/dismiss", store="B", json={"reason": "not_reproducible"}
        )
        assert dismissed.status_code == 200, dismissed.text
        seen = {role: [e for e in reader.finish() if e.event != "ready"] for role, reader in readers.items()}
        b_saw = [(e.event, e.data["alert_id"]) for e in control.finish() if e.event != "ready"]
    assert b_saw == [("alert.acknowledged", b.alert_id), ("alert.dismissed", b.alert_id)]
    assert seen == {role: [] for role in ROLES}


def test_store_b_reads_its_own_ids(world: World, b_ids: Ids) -> None:
    """The ids used above are really B's: B's own people read them (else the 404s above prove nothing)."""
    spec = world.app_client.get("/openapi.json").json()
    misses = []
    for path, method in _routes(spec):
        if method != "GET" or "{" not in path:
            continue
        request = _request(spec, path, method, b_ids)
        role, response = _first_allowed(world, request, "B")
        if response.status_code == 404:
            misses.append(f"GET {path} as {role} of B -> 404 {response.text[:200]}")
    assert not misses, "\n".join(misses)
