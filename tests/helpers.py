"""Helpers shared by the integration tests: run ingest as a real process, publish, query."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import text

from simulators.fleet import SimulatedVehicle, make_fleet, telemetry
from simulators.publish import Publisher
from store.db import make_engine
from tests.services import Broker, free_port
from wire.v1 import TelemetryMessage

_counter = itertools.count()


def wait_until(predicate: Callable[[], bool], *, timeout_s: float = 60.0, what: str = "condition") -> None:
    """Poll `predicate` until it is true; fail with `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


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


@dataclass
class IngestProcess:
    """`pitcall ingest` as a child process, configured by environment like in production."""

    db_url: str
    broker: Broker
    prefix: str
    client_id: str = field(default_factory=lambda: f"ingest-test-{os.getpid()}-{next(_counter)}")
    extra_env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    metrics_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "INGEST_DATABASE_URL": self.db_url,
            "INGEST_MQTT_PORT": str(self.broker.port),
            "INGEST_MQTT_USERNAME": "",
            "INGEST_CLIENT_ID": self.client_id,
            "INGEST_TOPIC_PREFIX": self.prefix,
            "INGEST_METRICS_PORT": str(self.metrics_port),
            "INGEST_RETRY_MAX_S": "2",
            **self.extra_env,
        }

    def start(self, *, wait: bool = True) -> IngestProcess:
        self.log_path = self.log_path or self.broker.root / f"{self.client_id}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pitcall", "ingest"], env=self.env(), stdout=log, stderr=log
        )
        if wait:
            wait_until(self.ready, timeout_s=30, what=f"ingest {self.client_id} subscribed")
        return self

    def metric(self, name: str) -> float | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as response:
                body = response.read().decode()
        except OSError:
            return None
        total = None
        for line in body.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                total = (total or 0.0) + float(line.rsplit(" ", 1)[1])
        return total

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"ingest exited with {self.process.returncode}: {self.log()}")
        return self.metric("pitcall_ingest_broker_connected") == 1.0

    def log(self) -> str:
        return self.log_path.read_text()[-4000:] if self.log_path and self.log_path.exists() else ""

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout_s: float = 60) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_s)


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
