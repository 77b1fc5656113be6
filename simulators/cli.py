"""`pitcall simulate ...`: feed a simulated fleet into pitcall."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import track
from sqlalchemy import select

from pitcall.settings import ToolSettings
from simulators.fleet import SimulatedVehicle, make_fleet, telemetry
from simulators.publish import Publisher
from store import fleet as registry
from store.db import make_engine
from store.tables import devices

simulate_app = typer.Typer(help="Simulated vehicles and dongles.", no_args_is_help=True)
console = Console(stderr=True)
DEMO_STORE = "DEMO-SH-01"


def provision_fleet(database_url: str, vehicles: list[SimulatedVehicle]) -> int:
    """Register the fleet's vehicles and dongles in the demo store; skip those that exist. Return new devices."""
    created = 0
    with make_engine(database_url).begin() as conn:
        store_id = registry.ensure_store(
            conn, group_name="Demo dealer group", store_code=DEMO_STORE, store_name="上海浦东 4S 店 (demo)"
        )
        known = set(conn.scalars(select(devices.c.device_id)))
        for v in vehicles:
            if v.device_id in known:
                continue
            registry.add_vehicle(
                conn, store_id=store_id, vin=v.vin, make=v.make, model=v.model, year=v.year, engine=v.engine
            )
            registry.provision_device(conn, device_id=v.device_id, vin=v.vin)
            created += 1
    return created


def publish_recent_driving(
    settings: ToolSettings, fleet: list[SimulatedVehicle], *, minutes: int, seed: int
) -> datetime:
    """Publish `minutes` of 1 Hz driving per vehicle ending now; return the first sample's time."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes)
    publisher = Publisher(host=settings.mqtt_host, port=settings.mqtt_port, client_id=f"pitcall-sim-{os.getpid()}")
    sent = 0
    for vehicle in track(fleet, description="publishing", console=console):
        messages = telemetry(vehicle, start=start, samples=minutes * 60, seed=seed, seq_start=int(start.timestamp()))
        sent += publisher.publish(messages)
    publisher.close()
    console.print(f"published {sent} telemetry messages for {len(fleet)} vehicles")
    return start


@simulate_app.command("fleet")
def simulate_fleet(
    vehicles_count: Annotated[int, typer.Option("--vehicles")] = 20,
    minutes: Annotated[int, typer.Option(help="minutes of 1 Hz driving per vehicle, ending now")] = 10,
    seed: int = 42,
    provision: Annotated[bool, typer.Option(help="register vehicles and dongles first")] = True,
) -> None:
    """Publish `minutes` of recent driving for a seeded fleet (10 samples per message)."""
    settings = ToolSettings()
    fleet = make_fleet(vehicles_count, seed=seed)
    if provision:
        console.print(f"provisioned {provision_fleet(settings.database_url, fleet)} new dongles")
    publish_recent_driving(settings, fleet, minutes=minutes, seed=seed)
