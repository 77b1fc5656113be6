"""The main job on local services: migrate, start ingest, publish a simulated fleet, show what landed."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from pitcall.local_services import IngestProcess
from pitcall.settings import ToolSettings
from simulators.cli import DEMO_STORE, provision_fleet, publish_recent_driving
from simulators.fleet import make_fleet
from store import migrate
from store.db import make_engine
from store.maintenance import refresh_rollups
from store.provision_db import ensure_database
from wire import DEFAULT_PREFIX

console = Console(width=160)
LATEST = text("""
SELECT v.vin, v.model AS car, count(t.*) AS samples, max(t.ts) AS last_ts,
       (array_agg(t.pids ORDER BY t.ts DESC))[1] AS latest
FROM devices d JOIN vehicles v ON v.id = d.vehicle_id
JOIN telemetry t ON t.vehicle_id = v.id AND t.ts >= :since
WHERE d.device_id = ANY(:devices)
GROUP BY v.vin, car ORDER BY v.vin LIMIT 8
""")
SEED = 42
ALERTS = text("""
SELECT v.vin, a.mode, a.severity, a.confidence, a.days_to_failure, a.first_observed_at, a.state, a.evidence,
       a.operation
FROM alerts a JOIN vehicles v ON v.id = a.vehicle_id ORDER BY a.first_observed_at LIMIT 20
""")


def run_demo(
    settings: ToolSettings, *, vehicles: int, minutes: int, history_vehicles: int = 24, history_days: int = 60
) -> None:
    if ensure_database(settings.database_url):
        console.print(f"created database {settings.database_url}")
    migrate.upgrade(settings.database_url)
    console.print("[bold]schema migrated[/bold] (TimescaleDB hypertables, rollups)")
    fleet = make_fleet(vehicles, seed=SEED)
    console.print(f"provisioned {provision_fleet(settings.database_url, fleet)} new dongles in store {DEMO_STORE}")
    with tempfile.TemporaryDirectory(prefix="pitcall-demo-") as logs:
        ingest = IngestProcess(
            db_url=settings.database_url,
            mqtt_port=settings.mqtt_port,
            log_dir=Path(logs),
            prefix=DEFAULT_PREFIX,
            client_id="pitcall-demo-ingest",
            # A share group of its own: Mosquitto deals a group's messages to its offline sessions too, so
            # another ingest once run against this broker in the default group would take a share.
            extra_env={"INGEST_MQTT_HOST": settings.mqtt_host, "INGEST_SHARE_GROUP": "pitcall-demo"},
        )
        ingest.start()
        console.print("ingest is running and subscribed")
        try:
            start = publish_recent_driving(settings, fleet, minutes=minutes, seed=SEED)
            _wait_for_ingest(ingest, expected=vehicles * minutes * 60)
        finally:
            ingest.terminate()
    with make_engine(settings.database_url).begin() as conn:
        buckets = refresh_rollups(conn, now=datetime.now(UTC), settle=timedelta(hours=-1))
    console.print(f"hourly rollups refreshed for {buckets} vehicle-hours (view telemetry_hourly)")
    _show(settings, since=start, devices=[v.device_id for v in fleet])
    if history_days:
        _predict(settings, vehicles=history_vehicles, days=history_days)


def _predict(settings: ToolSettings, *, vehicles: int, days: int) -> None:
    """Months of a fleet with failing parts through broker and ingest, then prediction in data time."""
    from pitcall.evaluate import HEADER, eval_database_url, run_eval, table_rows
    from predict.model import shipped
    from simulators.history import Cadence
    from simulators.scenario import FleetPlan

    console.print(f"\n[bold]prediction[/bold]: {vehicles} cars x {days} days of history (seeded faults) -> broker ->"
                  " ingest -> TimescaleDB -> predict replay, in its own database")  # fmt: skip
    plan = FleetPlan(seed=SEED, vehicles=vehicles, start=datetime.now(UTC).date() - timedelta(days=days + 1),
                     days=days, prefix="demo-hist")  # fmt: skip
    # The simulated workshop handles the first half of the history: alerts raised since are the store's queue.
    result = run_eval(settings, plan, model=shipped(), cadence=Cadence(sample_every_s=60), workers=2,
                      workshop_until=plan.start + timedelta(days=days // 2))  # fmt: skip
    alerts_table = Table("vehicle", "mode", "severity", "conf.", "days to failure", "first seen", "state",
                         "evidence", "operation", title="alerts raised (data time)")  # fmt: skip
    with make_engine(eval_database_url(settings.database_url)).connect() as conn:
        for row in conn.execute(ALERTS):
            evidence = row.evidence
            alerts_table.add_row(
                row.vin, row.mode, row.severity, f"{row.confidence:.2f}",
                "-" if row.days_to_failure is None else f"{row.days_to_failure:.0f}",
                f"{row.first_observed_at:%Y-%m-%d}", row.state,
                f"{evidence['signal']}: z {evidence['z']} (threshold {evidence['threshold_z']:.1f})", row.operation,
            )  # fmt: skip
    console.print(alerts_table)
    scores = Table(*HEADER, title="scored against the fleet's ground truth")
    for line in table_rows(result):
        if line[0] == "all modes":
            scores.add_row(*line)
    console.print(scores)
    console.print(f"query it: psql {eval_database_url(settings.database_url)} (tables alerts, vehicle_day_features)")
    from pitcall.demo_service import run_service_demo

    console.print("\n[bold]service[/bold]: the most urgent open alert through booking, work order and survey")
    url = eval_database_url(settings.database_url)
    engine = make_engine(url)
    try:
        run_service_demo(url, engine, console)
    finally:
        engine.dispose()


def _wait_for_ingest(ingest: IngestProcess, *, expected: int, timeout_s: float = 120) -> None:
    """Wait until ingest has committed every sample of this run, as new rows or as duplicates."""
    deadline = time.monotonic() + timeout_s
    stored = duplicate = 0.0
    while time.monotonic() < deadline:
        stored = ingest.metric("pitcall_ingest_samples_stored_total") or 0.0
        duplicate = ingest.metric("pitcall_ingest_samples_duplicate_total") or 0.0
        console.print(f"committed: {stored:,.0f} new samples + {duplicate:,.0f} already stored, of {expected:,}")
        if stored + duplicate >= expected:
            return
        time.sleep(1)
    console.print(f"[yellow]only {stored + duplicate:,.0f} of {expected:,} samples committed in {timeout_s}s[/yellow]")


def _show(settings: ToolSettings, *, since: datetime, devices: list[str]) -> None:
    table = Table("VIN", "model", "samples", "last (UTC)", "RPM", "coolant °C", "volts", title="latest samples")
    table.columns[0].no_wrap = True
    with make_engine(settings.database_url).connect() as conn:
        for row in conn.execute(LATEST, {"since": since, "devices": devices}):
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
