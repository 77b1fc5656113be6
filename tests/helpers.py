"""Helpers shared by the integration tests: run ingest as a real process, publish, query."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import text

from pitcall.local_services import Broker, IngestProcess
from simulators.fleet import SimulatedVehicle, make_fleet, telemetry
from simulators.publish import Publisher
from store.db import make_engine
from wire.v1 import TelemetryMessage

_counter = itertools.count()


def scalar(db_url: str, sql: str, **params: Any) -> Any:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.scalar(text(sql), params)
    finally:
        engine.dispose()


def rows(db_url: str, sql: str, **params: Any) -> list[Any]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        engine.dispose()


class IngestFactory(Protocol):
    """The `ingest_factory` fixture: an IngestProcess for this test's database, broker and prefix."""

    def __call__(self, **overrides: Any) -> IngestProcess: ...


@dataclass
class FleetUnderTest:
    """Simulated vehicles provisioned in a test database, publishing under a test prefix."""

    vehicles: list[SimulatedVehicle]
    prefix: str
    broker: Broker
    start: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2))

    def messages(
        self, samples_per_vehicle: int, *, per_message: int = 10, offset_s: int = 0
    ) -> Iterator[TelemetryMessage]:
        for vehicle in self.vehicles:
            yield from telemetry(
                vehicle,
                start=self.start + timedelta(seconds=offset_s),
                samples=samples_per_vehicle,
                samples_per_message=per_message,
                seq_start=offset_s,
            )

    def publisher(self) -> Publisher:
        return Publisher(host="127.0.0.1", port=self.broker.port, client_id=f"pub-{os.getpid()}-{next(_counter)}")

    def publish(self, messages: Iterator[TelemetryMessage] | list[TelemetryMessage]) -> int:
        publisher = self.publisher()
        try:
            return publisher.publish(messages, prefix=self.prefix)
        finally:
            publisher.close()


def provision(db_url: str, size: int, *, seed: int) -> list[SimulatedVehicle]:
    from simulators.cli import provision_fleet

    vehicles = make_fleet(size, seed=seed, prefix=f"t{seed}")
    provision_fleet(db_url, vehicles)
    return vehicles


def unique_prefix() -> str:
    return f"test{os.getpid()}x{next(_counter)}/pitcall/v1"


def copy_database(admin_url: str, name: str, template: str) -> None:
    """CREATE DATABASE name TEMPLATE template, first closing sessions left on the template (a pooled
    connection of the fixture that built it, or a TimescaleDB background worker), which make PostgreSQL
    refuse the copy ("source database is being accessed by other users")."""
    import time

    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    from store.db import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        for attempt in range(10):
            with engine.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :t AND pid <> pg_backend_pid()"
                    ),
                    {"t": template},
                )
                try:
                    conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {template}"))
                    return
                except OperationalError:
                    if attempt == 9:
                        raise
            time.sleep(0.2)
    finally:
        engine.dispose()


def assert_nothing_lost(fault: str, db_url: str, *, sent: int, acknowledged: int | None = None) -> None:
    """Fault campaign (issue 18): print samples sent, acknowledged and stored; assert 0 lost, 0 duplicated.

    `stored` counts rows, `distinct` distinct (vehicle, ts): the unique key makes duplicates impossible in
    the table, so "duplicated" is what a broken key or a second write path would show."""
    stored = int(scalar(db_url, "SELECT count(*) FROM telemetry"))
    distinct = int(scalar(db_url, "SELECT count(DISTINCT (vehicle_id, ts)) FROM telemetry"))
    acked = sent if acknowledged is None else acknowledged
    print(f"\n[fault campaign] {fault}: sent {sent}, acknowledged {acked}, stored {distinct}, "
          f"lost {acked - distinct}, duplicated {stored - distinct}")  # fmt: skip
    assert (acked - distinct, stored - distinct) == (0, 0), f"{fault}: lost {acked - distinct}, dup {stored - distinct}"
