"""Load simulated history straight into TimescaleDB with COPY, bypassing MQTT and ingest.

For benchmarks and model development only (millions of rows in seconds); the evaluation and the demo
go through the real broker and ingest. Registers the cars first (idempotent).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import orjson
import psycopg

from simulators.cli import CarRegistration, register_vehicles
from simulators.history import Cadence, CarHistory
from simulators.scenario import FleetPlan, SimCar, build_fleet
from wire.v1 import TelemetryMessage


def register(database_url: str, cars: Iterable[SimCar], *, store_code: str, store_name: str) -> dict[str, int]:
    """Register the cars and their dongles in a store (skip known ones); return vehicle id by device id."""
    registrations = [CarRegistration.of(car) for car in cars]
    ids, _created = register_vehicles(
        database_url, registrations, store_code=store_code, store_name=store_name, group_name="Simulated dealer group"
    )
    return ids


def bulk_load(
    database_url: str, plan: FleetPlan, *, cadence: Cadence | None = None, store_code: str = "SIM-01"
) -> tuple[list[SimCar], int]:
    """Simulate the plan and COPY its telemetry and DTC reports; return the cars and the sample count."""
    cars = build_fleet(plan)
    return cars, load_cars(database_url, cars, start=plan.start, days=plan.days, cadence=cadence, store_code=store_code)


def load_cars(
    database_url: str,
    cars: list[SimCar],
    *,
    start: date,
    days: int,
    cadence: Cadence | None = None,
    store_code: str = "SIM-01",
) -> int:
    """Register these cars, simulate `days` from `start` and COPY their telemetry and DTC reports; return the
    sample count."""
    ids = register(database_url, cars, store_code=store_code, store_name=f"Simulated store {store_code}")
    samples = 0
    with psycopg.connect(database_url) as conn:
        for car in cars:
            history = CarHistory(car, cadence or Cadence())
            with conn.cursor() as cur:
                with cur.copy("COPY telemetry (ts, vehicle_id, device_id, seq, pids) FROM STDIN") as copy:
                    dtcs = []
                    for offset in range(days):
                        for message in history.day(start + timedelta(days=offset)):
                            if isinstance(message, TelemetryMessage):
                                for s in message.samples:
                                    copy.write_row(
                                        (
                                            s.ts,
                                            ids[car.device_id],
                                            car.device_id,
                                            message.seq,
                                            orjson.dumps(s.pids).decode(),
                                        )
                                    )
                                    samples += 1
                            else:
                                dtcs.append(message)
                cur.executemany(
                    "INSERT INTO dtc_events (ts, vehicle_id, device_id, seq, mil, stored, pending, permanent)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, '{}') ON CONFLICT DO NOTHING",
                    [(m.ts, ids[car.device_id], car.device_id, m.seq, m.mil, m.stored, m.pending) for m in dtcs],
                )
            conn.commit()
    return samples
