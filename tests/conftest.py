"""Fixtures: a private TimescaleDB cluster and Mosquitto broker per test session, a fresh migrated
database per test, and ingest processes started like in production."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.app import create_app
from api.settings import ApiSettings
from pitcall.local_devices import Elm327Emulator
from pitcall.local_services import Broker, IngestProcess, PostgresCluster
from store import migrate
from store.db import sqlalchemy_url
from tests.api_world import StoreWorld, World, build_world
from tests.helpers import FleetUnderTest, IngestFactory, copy_database, provision, unique_prefix

_databases = itertools.count()
TEMPLATE = "pitcall_template"


@pytest.fixture(scope="session")
def pg() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    cluster.init()
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def template_db(pg: PostgresCluster) -> str:
    engine = create_engine(sqlalchemy_url(pg.url()), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {TEMPLATE}"))
    engine.dispose()
    migrate.upgrade(pg.url(TEMPLATE))
    return TEMPLATE


WORLD_TEMPLATE = "pitcall_world_template"


@dataclass(frozen=True)
class WorldTemplate:
    """A migrated database holding the API tests' world, built once per session and copied per test."""

    name: str
    stores: dict[str, StoreWorld]
    group_admin: str


@pytest.fixture(scope="session")
def world_template(pg: PostgresCluster, template_db: str) -> WorldTemplate:
    engine = create_engine(sqlalchemy_url(pg.url()), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {WORLD_TEMPLATE} TEMPLATE {template_db}"))
    engine.dispose()
    engine = create_engine(sqlalchemy_url(pg.url(WORLD_TEMPLATE)))
    with engine.begin() as conn:
        stores, admin = build_world(conn)
    engine.dispose()
    return WorldTemplate(WORLD_TEMPLATE, stores, admin)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, pg: PostgresCluster, template_db: str) -> Iterator[str]:
    """A fresh, migrated database for one test (a copy of the world's database if the test uses `world`)."""
    name = f"t_{next(_databases)}"
    template = request.getfixturevalue("world_template").name if "world" in request.fixturenames else template_db
    copy_database(pg.url(), name, template)
    engine = create_engine(sqlalchemy_url(pg.url()), isolation_level="AUTOCOMMIT")
    yield pg.url(name)
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    engine.dispose()


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    instance = Broker()
    instance.start()
    yield instance
    instance.destroy()


@pytest.fixture
def prefix() -> str:
    """A topic prefix of this test's own, so tests sharing the broker never see each other's messages."""
    return unique_prefix()


@pytest.fixture
def fleet(db_url: str, broker: Broker, prefix: str) -> FleetUnderTest:
    return FleetUnderTest(provision(db_url, 4, seed=7), prefix, broker)


@pytest.fixture
def ingest_factory(db_url: str, broker: Broker, prefix: str) -> Iterator[IngestFactory]:
    started: list[IngestProcess] = []

    def factory(**kwargs: Any) -> IngestProcess:
        options: dict[str, Any] = {"db_url": db_url, "mqtt_port": broker.port, "log_dir": broker.root, "prefix": prefix}
        options.update(kwargs)
        process = IngestProcess(**options)
        started.append(process)
        return process

    yield factory
    for process in started:
        if process.process and process.process.poll() is None:
            process.kill()


@pytest.fixture
def emulator() -> Iterator[Elm327Emulator]:
    """ELM327-emulator serving a car on a pty (its codes, ignition and battery under the test's control)."""
    instance = Elm327Emulator()
    instance.start()
    yield instance
    instance.destroy()


@pytest.fixture
def api_client(db_url: str) -> Iterator[TestClient]:
    """The API app on a fresh database, called in-process (lifespan run, real database)."""
    with TestClient(create_app(ApiSettings(database_url=db_url, environment="development"))) as client:
        yield client


@pytest.fixture
def world(api_client: TestClient, world_template: WorldTemplate) -> World:
    """Two stores of one group and a store of another group, with people, keys, vehicles and alerts
    (this test's `db_url` is a copy of the session's world database)."""
    return World(api_client, copy.deepcopy(world_template.stores), world_template.group_admin)
