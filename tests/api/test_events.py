"""The live alert stream, `GET /api/v1/events/alerts` (server-sent events), on the real server: what a
client reads as alerts are raised and reviewed, who may open it, resuming with Last-Event-ID, and
which stores' alerts each caller reads (a store's people only theirs; a group admin the group's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.tenancy import Role
from predict.catalog import FailureMode
from store.db import make_engine
from tests.api.server import ApiProcess, Event, EventReader, running_api
from tests.api_world import World, raise_test_alert

STREAM = "/api/v1/events/alerts"


@pytest.fixture
def server(world: World, db_url: str, tmp_path: Path) -> Iterator[ApiProcess]:
    with running_api(db_url, log=tmp_path / "api.log", env={"PITCALL_API_EVENT_POLL_S": "0.1"}) as api:
        yield api


def open_stream(
    server: ApiProcess, world: World, role: Role, store: str, *, max_seconds: float = 3, **headers: str
) -> EventReader:
    url, auth = f"{server.base}{STREAM}", world.headers(role, store)
    reader = EventReader(url, headers=auth | headers, max_seconds=max_seconds)
    reader.wait_ready()
    return reader


def raise_alert(db_url: str, world: World, store: str, mode: FailureMode) -> int:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        alert_id = raise_test_alert(
            conn, store_id=world.stores[store].store_id, vehicle_id=world.stores[store].vehicle_id, mode=mode
        )
    engine.dispose()
    return alert_id


def alerts_of(events: list[Event]) -> list[tuple[str, int, int]]:
    return [(e.event, e.data["alert_id"], e.data["store_id"]) for e in events if e.event != "ready"]


def test_nobody_and_a_forged_token_are_refused(server: ApiProcess) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"X-API-Key": "pck_nothing_here"}):
        response = httpx.get(f"{server.base}{STREAM}", headers=headers, params={"max_seconds": 1}, timeout=10)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthorized"


def test_a_store_reads_its_alerts_as_they_are_raised_and_reviewed(
    world: World, db_url: str, server: ApiProcess
) -> None:
    a = world.stores["A"]
    reader = open_stream(server, world, Role.SERVICE_ADVISOR, "A")
    raised = raise_alert(db_url, world, "A", FailureMode.THERMOSTAT)
    acknowledged = world.call("POST", f"/api/v1/alerts/{a.alert_id}/acknowledge", json={"note": "calling"})
    assert acknowledged.status_code == 200, acknowledged.text
    events = reader.finish()

    assert reader.status == 200
    assert events[0].event == "ready" and events[0].id is None
    assert alerts_of(events) == [("alert.raised", raised, a.store_id), ("alert.acknowledged", a.alert_id, a.store_id)]
    ids = [int(e.id) for e in events[1:] if e.id is not None]
    assert ids == sorted(ids) and len(ids) == 2 and ids[0] > events[0].data["last_event_id"]
    assert events[1].data["mode"] == "thermostat" and events[1].data["severity"] == "warning"


def test_reconnecting_with_last_event_id_gets_what_was_missed(world: World, db_url: str, server: ApiProcess) -> None:
    first = open_stream(server, world, Role.SERVICE_MANAGER, "A", max_seconds=0.5).finish()
    last_seen = first[0].data["last_event_id"]
    missed = raise_alert(db_url, world, "A", FailureMode.MISFIRE)  # while nobody listens
    fresh = open_stream(server, world, Role.SERVICE_MANAGER, "A", max_seconds=1).finish()
    resumed = open_stream(
        server, world, Role.SERVICE_MANAGER, "A", max_seconds=1, **{"Last-Event-ID": str(last_seen)}
    ).finish()
    assert alerts_of(fresh) == []  # a new connection starts at the newest event
    assert alerts_of(resumed) == [("alert.raised", missed, world.stores["A"].store_id)]


def test_each_caller_reads_only_the_stores_it_may_see(world: World, db_url: str, server: ApiProcess) -> None:
    readers = {
        "A": open_stream(server, world, Role.TECHNICIAN, "A"),
        "A's key": open_stream(server, world, Role.INTEGRATION, "A"),
        "B": open_stream(server, world, Role.SERVICE_MANAGER, "B"),
        "X": open_stream(server, world, Role.SERVICE_MANAGER, "X"),
        "group one": open_stream(server, world, Role.GROUP_ADMIN, "A"),
    }
    in_a = raise_alert(db_url, world, "A", FailureMode.CATALYST)
    in_b = raise_alert(db_url, world, "B", FailureMode.CATALYST)
    read = {name: {alert_id for _, alert_id, _ in alerts_of(r.finish())} for name, r in readers.items()}
    assert read == {"A": {in_a}, "A's key": {in_a}, "B": {in_b}, "X": set(), "group one": {in_a, in_b}}
