"""Measure the telemetry table layouts the store could use (docs/store.md records the result).

Writes the same readings through asyncpg binary COPY into a scratch database as
(a) hybrid: one row per sample, readings in jsonb, unique (vehicle_id, ts) — what pitcall uses;
(b) narrow: one row per reading (ts, vehicle_id, pid smallint, value), unique (vehicle_id, pid, ts);
and reports readings/s and bytes per reading on disk for each.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson

from wire.pids import FAST_SET

PIDS = FAST_SET

LAYOUTS = {
    "hybrid": """
        CREATE TABLE layout_hybrid (ts timestamptz NOT NULL, vehicle_id int NOT NULL,
            device_id varchar(64) NOT NULL, seq bigint NOT NULL, pids jsonb NOT NULL,
            UNIQUE (vehicle_id, ts));
        SELECT create_hypertable('layout_hybrid', by_range('ts', INTERVAL '1 day'),
                                 create_default_indexes => false);""",
    "narrow": """
        CREATE TABLE layout_narrow (ts timestamptz NOT NULL, vehicle_id int NOT NULL,
            pid smallint NOT NULL, value float8, UNIQUE (vehicle_id, pid, ts));
        SELECT create_hypertable('layout_narrow', by_range('ts', INTERVAL '1 day'),
                                 create_default_indexes => false);""",
}


@dataclass(frozen=True)
class LayoutResult:
    layout: str
    readings: int
    seconds: float
    bytes_on_disk: int

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.seconds

    @property
    def bytes_per_reading(self) -> float:
        return self.bytes_on_disk / self.readings


def _samples(vehicles: int, per_vehicle: int) -> list[tuple[int, datetime, dict[str, float]]]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    return [
        (
            v,
            start + timedelta(seconds=i),
            {p: round(800 + v + i % 97 * 1.25 + k, 2) for k, p in enumerate(PIDS)},
        )
        for v in range(1, vehicles + 1)
        for i in range(per_vehicle)
    ]


async def _copy(
    conn: asyncpg.Connection, layout: str, samples: list[tuple[int, datetime, dict[str, float]]], batch: int
) -> float:
    started = time.perf_counter()
    for lo in range(0, len(samples), batch):
        chunk = samples[lo : lo + batch]
        if layout == "hybrid":
            hybrid_rows = [(ts, v, "dev", i, orjson.dumps(p).decode()) for i, (v, ts, p) in enumerate(chunk)]
            await conn.copy_records_to_table("layout_hybrid", records=hybrid_rows)
        else:
            narrow_rows = [(ts, v, k, p[name]) for v, ts, p in chunk for k, name in enumerate(PIDS)]
            await conn.copy_records_to_table("layout_narrow", records=narrow_rows)
    return time.perf_counter() - started


async def measure(
    database_url: str, *, vehicles: int = 50, per_vehicle: int = 4000, batch: int = 2000
) -> list[LayoutResult]:
    """Load the same samples into each layout and return the figures."""
    samples = _samples(vehicles, per_vehicle)
    conn = await asyncpg.connect(database_url)
    results = []
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        for layout, ddl in LAYOUTS.items():
            await conn.execute(f"DROP TABLE IF EXISTS layout_{layout}")
            await conn.execute(ddl)
            seconds = await _copy(conn, layout, samples, batch)
            await conn.execute(f"VACUUM ANALYZE layout_{layout}")
            size = await conn.fetchval(f"SELECT hypertable_size('layout_{layout}')")
            results.append(LayoutResult(layout, len(samples) * len(PIDS), seconds, int(size)))
            await conn.execute(f"DROP TABLE layout_{layout}")
    finally:
        await conn.close()
    return results


def run(database_url: str) -> list[LayoutResult]:
    return asyncio.run(measure(database_url))
