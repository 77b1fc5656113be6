"""The main job on local services: migrate, start ingest, publish a simulated fleet, show what landed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from pitcall.settings import ToolSettings
from simulators.cli import DEMO_STORE, simulate_fleet
from store import migrate
from store.db import make_engine
from store.maintenance import refresh_rollups
from store.provision_db import ensure_database

console = Console()
LATEST = text("""
SELECT v.vin, v.make || ' ' || v.model AS car, count(t.*) AS samples, max(t.ts) AS last_ts,
       (array_agg(t.pids ORDER BY t.ts DESC))[1] AS latest
FROM vehicles v JOIN stores s ON s.id = v.store_id AND s.code = :store
LEFT JOIN telemetry t ON t.vehicle_id = v.id AND t.ts > now() - make_interval(mins => :minutes + 5)
GROUP BY v.vin, car ORDER BY v.vin LIMIT 8
""")


def run_demo(settings: ToolSettings, *, vehicles: int, minutes: int) -> None:
    if ensure_database(settings.database_url):
        console.print(f"created database {settings.database_url}")
    migrate.upgrade(settings.database_url)
    console.print("[bold]schema migrated[/bold] (TimescaleDB hypertables, rollups)")
    env = {
        **os.environ,
        "INGEST_DATABASE_URL": settings.database_url,
        "INGEST_MQTT_HOST": settings.mqtt_host,
        "INGEST_MQTT_PORT": str(settings.mqtt_port),
        "INGEST_CLIENT_ID": "pitcall-ingest-demo",
        "INGEST_METRICS_PORT": "0",
    }
    ingest = subprocess.Popen([sys.executable, "-m", "pitcall", "ingest"], env=env, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        simulate_fleet(vehicles_count=vehicles, minutes=minutes, seed=42, provision=True)
        expected = vehicles * minutes * 60
        _wait_for_rows(settings, expected=expected, minutes=minutes)
    finally:
        ingest.send_signal(signal.SIGTERM)
        ingest.wait(timeout=60)
    with make_engine(settings.database_url).begin() as conn:
        buckets = refresh_rollups(conn, now=datetime.now(UTC), settle=timedelta(hours=-1))
    console.print(f"hourly rollups refreshed for {buckets} vehicle-hours")
    _show(settings, minutes)


def _wait_for_rows(settings: ToolSettings, *, expected: int, minutes: int, timeout_s: float = 120) -> None:
    engine = make_engine(settings.database_url)
    deadline = time.monotonic() + timeout_s
    count = 0
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            count = (
                conn.scalar(
                    text(
                        "SELECT count(*) FROM telemetry t JOIN vehicles v ON v.id = t.vehicle_id JOIN stores s "
                        "ON s.id = v.store_id WHERE s.code = :store AND t.ts > now() - make_interval(mins => :m + 5)"
                    ),
                    {"store": DEMO_STORE, "m": minutes},
                )
                or 0
            )
        console.print(f"rows in telemetry for the demo fleet: {count} / {expected}")
        if count >= expected:
            return
        time.sleep(1)
    console.print(f"[yellow]only {count} of {expected} samples arrived within {timeout_s}s[/yellow]")


def _show(settings: ToolSettings, minutes: int) -> None:
    table = Table("VIN", "car", "samples", "last sample (UTC)", "RPM", "coolant °C", "battery V")
    with make_engine(settings.database_url).connect() as conn:
        for row in conn.execute(LATEST, {"store": DEMO_STORE, "minutes": minutes}):
            latest = row.latest or {}
            table.add_row(
                row.vin,
                row.car,
                str(row.samples),
                f"{row.last_ts:%H:%M:%S}" if row.last_ts else "-",
                str(latest.get("RPM")),
                str(latest.get("COOLANT_TEMP")),
                str(latest.get("CONTROL_MODULE_VOLTAGE")),
            )
        dead = conn.scalar(text("SELECT count(*) FROM dead_letters"))
    console.print(table)
    console.print(f"dead letters so far: {dead}. Query the data: psql {settings.database_url}")
