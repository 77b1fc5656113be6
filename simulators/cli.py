"""`pitcall simulate ...`: feed a simulated fleet into pitcall."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Protocol

import orjson
import typer
from rich.console import Console
from rich.progress import track
from sqlalchemy import select

from pitcall.settings import ToolSettings
from simulators.climate import CHINA
from simulators.delivery import DeliveryPlan
from simulators.fleet import SimulatedVehicle, make_fleet, telemetry
from simulators.history import Cadence
from simulators.outputs import JsonlSink, MqttSink, Sink, run_history, run_live
from simulators.publish import Publisher
from simulators.scenario import FleetPlan, SimCar, build_fleet, ground_truth
from store import fleet as registry
from store.db import make_engine
from store.tables import devices

simulate_app = typer.Typer(help="Simulated vehicles and dongles.", no_args_is_help=True)
console = Console(stderr=True)
DEMO_STORE = "DEMO-SH-01"
FIRST_DAY = datetime(2026, 9, 1)


class Registration(Protocol):
    """What the registry needs to know about a simulated car and its dongle."""

    @property
    def device_id(self) -> str: ...
    @property
    def vin(self) -> str: ...
    @property
    def make(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def year(self) -> int: ...
    @property
    def engine(self) -> str: ...


@dataclass(frozen=True, slots=True)
class CarRegistration:
    device_id: str
    vin: str
    make: str
    model: str
    year: int
    engine: str

    @classmethod
    def of(cls, car: SimCar) -> CarRegistration:
        return cls(car.device_id, car.vin, car.model.make, car.model.model, car.year, car.model.engine)


def register_vehicles(
    database_url: str, vehicles: Iterable[Registration], *, store_code: str, store_name: str, group_name: str
) -> tuple[dict[str, int], int]:
    """Register vehicles and dongles in a store, skipping known dongles; return (vehicle id by dongle, new ones)."""
    created = 0
    with make_engine(database_url).begin() as conn:
        store_id = registry.ensure_store(conn, group_name=group_name, store_code=store_code, store_name=store_name)
        known = {r.device_id: r.vehicle_id for r in conn.execute(select(devices.c.device_id, devices.c.vehicle_id))}
        for v in vehicles:
            if v.device_id in known:
                continue
            known[v.device_id] = registry.add_vehicle(
                conn, store_id=store_id, vin=v.vin, make=v.make, model=v.model, year=v.year, engine=v.engine
            )
            registry.provision_device(conn, device_id=v.device_id, vin=v.vin)
            created += 1
    return known, created


def provision_fleet(database_url: str, vehicles: Iterable[Registration]) -> int:
    """Register the vehicles and dongles in the demo store; skip those that exist. Return new devices."""
    _ids, created = register_vehicles(
        database_url,
        vehicles,
        store_code=DEMO_STORE,
        store_name="上海浦东 4S 店 (demo)",
        group_name="Demo dealer group",
    )
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


class Output(StrEnum):
    MQTT = "mqtt"
    JSONL = "jsonl"


def history_window_note(plan: FleetPlan, *, now: datetime) -> str:
    """Say what ingest's time window must allow for this history run; raise BadParameter if it cannot."""
    end = plan.start_at + timedelta(days=plan.days)
    if end > now + timedelta(minutes=5):
        raise typer.BadParameter(f"history ends {end:%Y-%m-%d}, in the future: ingest refuses future samples")
    age_days = (now - plan.start_at).days + 1
    return f"ingest must accept samples {age_days} days old: run it with INGEST_MAX_SAMPLE_AGE=P{age_days}D or more"


def _sink(settings: ToolSettings, output: Output, path: Path | None) -> Sink:
    if output is Output.JSONL:
        if path is None:
            raise typer.BadParameter("--out jsonl needs --path FILE")
        return JsonlSink(path)
    return MqttSink.connect(host=settings.mqtt_host, port=settings.mqtt_port)


@simulate_app.command("history")
def simulate_history(
    vehicles_count: Annotated[int, typer.Option("--vehicles")] = 20,
    days: int = 30,
    seed: int = 42,
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="first day (local time)")] = datetime(
        2026, 9, 1
    ),
    out: Annotated[Output, typer.Option(help="publish to the broker or write a JSONL file")] = Output.MQTT,
    path: Annotated[Path | None, typer.Option(help="the JSONL file (--out jsonl)")] = None,
    sample_every: Annotated[int, typer.Option(help="seconds between driving samples")] = 30,
    step: Annotated[int, typer.Option(help="physics step in seconds (divides --sample-every)")] = 5,
    workers: Annotated[int, typer.Option(help="generator processes")] = 2,
    provision: Annotated[bool, typer.Option(help="register vehicles and dongles first")] = True,
    truth: Annotated[Path | None, typer.Option(help="write the injected faults (ground truth) here as JSON")] = None,
    perfect: Annotated[bool, typer.Option(help="no offline gaps, duplicates or malformed messages")] = False,
) -> None:
    """Generate `days` of a seeded fleet's history from `start`, day by day, and publish or write it."""
    settings = ToolSettings()
    plan = FleetPlan(seed=seed, vehicles=vehicles_count, start=start.date(), days=days)
    if out is Output.MQTT:
        console.print(history_window_note(plan, now=datetime.now(UTC)))
    cars = build_fleet(plan)
    if truth is not None:
        truth.write_bytes(orjson.dumps(ground_truth(cars), option=orjson.OPT_INDENT_2))
    if provision:
        created = provision_fleet(settings.database_url, [CarRegistration.of(car) for car in cars])
        console.print(f"provisioned {created} new dongles")
    delivery = DeliveryPlan.perfect() if perfect else DeliveryPlan()
    sink = _sink(settings, out, path)
    stats = run_history(
        plan, Cadence(sample_every_s=sample_every, step_s=step), sink, delivery=delivery, workers=workers
    )
    console.print(stats.summary())


@simulate_app.command("live")
def simulate_live(
    vehicles_count: Annotated[int, typer.Option("--vehicles")] = 10,
    minutes: Annotated[float, typer.Option(help="how long to publish, then stop")] = 5.0,
    seed: int = 42,
    provision: Annotated[bool, typer.Option(help="register vehicles and dongles first")] = True,
) -> None:
    """Publish 1 Hz driving per car, timestamped now, for `minutes` (a message every 10 s per car)."""
    settings = ToolSettings()
    plan = FleetPlan(seed=seed, vehicles=vehicles_count, start=datetime.now(CHINA).date(), days=30)
    if provision:
        registrations = [CarRegistration.of(car) for car in build_fleet(plan)]
        console.print(f"provisioned {provision_fleet(settings.database_url, registrations)} new dongles")
    stats = run_live(plan, MqttSink.connect(host=settings.mqtt_host, port=settings.mqtt_port), minutes=minutes)
    console.print(stats.summary())


@simulate_app.command("car")
def simulate_car(
    seed: int = 42,
    index: Annotated[int, typer.Option(help="which car of the fleet")] = 0,
    vehicles_count: Annotated[int, typer.Option("--vehicles", help="the fleet's size (as in `history`)")] = 20,
    days: Annotated[int, typer.Option(help="the fleet's days (as in `history`)")] = 30,
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"])] = FIRST_DAY,
    speedup: Annotated[float, typer.Option(help="simulated seconds per wall-clock second")] = 60.0,
) -> None:
    """Serve one simulated car through ELM327-emulator on a pty (its path is printed first)."""
    from simulators.elm_car import CarPlayer, serve_car

    plan = FleetPlan(seed=seed, vehicles=vehicles_count, start=start.date(), days=days)
    serve_car(CarPlayer.for_car(plan, index, speedup=speedup))
