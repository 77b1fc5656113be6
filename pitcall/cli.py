"""The `pitcall` command: one entry point for every process and tool."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from api.cli import keys_app, serve, users_app
from api.notifications.cli import notify
from ingest.settings import DEV_PASSWORD
from pitcall import logs
from pitcall.bench.cli import bench_app
from pitcall.settings import ToolSettings
from predict.cli import predict_app
from simulators.cli import simulate_app
from store import fleet, migrate
from store.broker_files import BrokerAccount
from store.db import make_engine
from store.maintenance import apply_retention, current_edition, discard_invalidations, refresh_rollups
from store.secrets import hash_secret
from store.tables import devices, vehicles
from store.timescale import Edition, StorePolicy

app = typer.Typer(help="pitcall: telematics and predictive maintenance for 4S dealerships.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
devices_app = typer.Typer(help="OBD dongles: provision, revoke, list.", no_args_is_help=True)
vehicles_app = typer.Typer(help="Vehicles of a store.", no_args_is_help=True)
store_app = typer.Typer(help="Store maintenance jobs (rollups, retention).", no_args_is_help=True)
broker_app = typer.Typer(help="Broker configuration generated from the registry.", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (devices_app, "devices"),
    (vehicles_app, "vehicles"),
    (store_app, "store"),
    (broker_app, "broker"),
    (simulate_app, "simulate"),
    (bench_app, "bench"),
    (predict_app, "predict"),
    (users_app, "users"),
    (keys_app, "keys"),
):
    app.add_typer(sub, name=name)
app.command("api")(serve)
app.command("notify")(notify)
console = Console(stderr=True)
ROLLUP_BATCH = 5000  # vehicle-hours per rollup transaction


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or migrate the schema (idempotent); needs the timescaledb extension available."""
    settings = ToolSettings()
    migrate.upgrade(settings.database_url, revision)
    console.print(f"database at {revision}")


@vehicles_app.command("add")
def vehicles_add(
    vin: Annotated[str, typer.Option(help="17-character VIN")],
    make: Annotated[str, typer.Option()],
    model: Annotated[str, typer.Option()],
    year: Annotated[int, typer.Option()],
    store_code: Annotated[str, typer.Option("--store", help="store code, e.g. SH-PUDONG-01")],
    engine: str = "",
    store_name: Annotated[str | None, typer.Option(help="name if the store is new")] = None,
    group: Annotated[str, typer.Option(help="dealer group if the store is new")] = "Default group",
) -> None:
    """Register a vehicle with a store (the store is created if missing)."""
    with make_engine(ToolSettings().database_url).begin() as conn:
        store_id = fleet.ensure_store(
            conn, group_name=group, store_code=store_code, store_name=store_name or store_code
        )
        try:
            vehicle_id = fleet.add_vehicle(
                conn, store_id=store_id, vin=vin, make=make, model=model, year=year, engine=engine
            )
        except fleet.ConflictError as exc:
            raise _fail(str(exc)) from exc
    console.print(f"vehicle {vin} registered as #{vehicle_id}")


@devices_app.command("provision")
def devices_provision(device_id: str, vin: Annotated[str, typer.Option(help="VIN of the registered vehicle")]) -> None:
    """Create a device bound to a vehicle and print its secret once (only its hash is kept)."""
    try:
        with make_engine(ToolSettings().database_url).begin() as conn:
            device = fleet.provision_device(conn, device_id=device_id, vin=vin)
    except (fleet.FleetError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    console.print(f"device {device.device_id} bound to {device.vin}; its secret (shown once):")
    typer.echo(device.secret)


@devices_app.command("revoke")
def devices_revoke(device_id: str) -> None:
    """Revoke a device: ingest dead-letters its messages; regenerate the broker files to cut its login."""
    try:
        with make_engine(ToolSettings().database_url).begin() as conn:
            fleet.revoke_device(conn, device_id=device_id)
    except fleet.NotFoundError as exc:
        raise _fail(str(exc)) from exc
    console.print(f"device {device_id} revoked")


@devices_app.command("list")
def devices_list() -> None:
    """List devices with their vehicle, state and last message."""
    query = (
        select(devices.c.device_id, vehicles.c.vin, devices.c.state, devices.c.last_seq, devices.c.last_seen_at)
        .join(vehicles, vehicles.c.id == devices.c.vehicle_id)
        .order_by(devices.c.device_id)
    )
    table = Table("device", "vin", "state", "last seq", "last seen")
    with make_engine(ToolSettings().database_url).connect() as conn:
        for row in conn.execute(query):
            table.add_row(row.device_id, row.vin, row.state, str(row.last_seq), str(row.last_seen_at))
    Console(width=160).print(table)


@broker_app.command("acl")
def broker_acl(
    out_dir: Annotated[Path, typer.Option(help="where to write passwd and acl")] = Path("deploy/mosquitto/generated"),
    ingest_user: str = "pitcall-ingest",
    ingest_password: Annotated[str, typer.Option(envvar="INGEST_MQTT_PASSWORD", help="ingest's broker password")] = "",
    config_user: str = "pitcall-api",
    config_password: Annotated[
        str,
        typer.Option(
            envvar="PITCALL_CONFIG_MQTT_PASSWORD",
            help="password of the account that publishes device configs",
        ),
    ] = "",
    watch: Annotated[bool, typer.Option(help="keep the files in step with the registry (see --interval)")] = False,
    interval_s: Annotated[float, typer.Option("--interval", help="seconds between registry checks")] = 5.0,
    reload_pid: Annotated[int | None, typer.Option(help="the broker's pid: SIGHUP it after each write")] = None,
    reload_pid_file: Annotated[Path | None, typer.Option(help="file holding the broker's pid (read each time)")] = None,
) -> None:
    """Write Mosquitto's password and ACL files from the provisioned devices (and SIGHUP the broker if told
    its pid). With --watch, rewrite them whenever a device is provisioned or revoked."""
    from pitcall.broker_sync import BrokerFileSync, BrokerReload

    settings = ToolSettings()
    for name, password in (
        ("INGEST_MQTT_PASSWORD", ingest_password),
        ("PITCALL_CONFIG_MQTT_PASSWORD", config_password),
    ):
        if settings.environment != "development" and password == DEV_PASSWORD:
            raise _fail(f"{name} is the development default; refused outside development")
    if not ingest_password:
        raise _fail("set INGEST_MQTT_PASSWORD: ingest needs a broker account")
    if reload_pid is not None and reload_pid_file is not None:
        raise _fail("give --reload-pid or --reload-pid-file, not both")
    services = [BrokerAccount(ingest_user, hash_secret(ingest_password))]
    if config_password:
        services.append(BrokerAccount(config_user, hash_secret(config_password)))
    sync = BrokerFileSync(
        make_engine(settings.database_url),
        out_dir,
        services,
        ingest_user=ingest_user,
        config_user=config_user if config_password else None,
        reload=BrokerReload(reload_pid, reload_pid_file),
    )
    if not watch:
        sync.sync_once()
        devices_count = sync.render()["passwd"].count("\n") - len(services)
        console.print(f"wrote {devices_count} device accounts and {len(services)} service accounts to {out_dir}")
        return
    logs.configure()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        sync.check()
        stop.wait(interval_s)


@store_app.command("maintain")
def store_maintain(
    once: Annotated[bool, typer.Option(help="run each job once and exit")] = False,
    interval_s: float = 60.0,
    open_hours: Annotated[bool, typer.Option(help="also roll up the hour still in progress")] = False,
) -> None:
    """Refresh hourly rollups and apply retention (Apache edition); clear old dead letters (both editions)."""
    logs.configure()
    engine = make_engine(ToolSettings().database_url)
    settle = timedelta(hours=-1) if open_hours else timedelta(minutes=5)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    last_retention = 0.0
    while not stop["now"]:
        with engine.begin() as conn:
            edition = current_edition(conn)
        total = 0
        while edition is Edition.APACHE and not stop["now"]:
            with engine.begin() as conn:
                done = refresh_rollups(conn, now=datetime.now(UTC), settle=settle, limit=ROLLUP_BATCH)
            total += done
            if done < ROLLUP_BATCH:
                break
        if edition is Edition.TIMESCALE:
            with engine.begin() as conn:
                discard_invalidations(conn)
        if time.monotonic() - last_retention > 3600 or once:
            with engine.begin() as conn:
                dropped = apply_retention(conn, edition=edition, now=datetime.now(UTC), policy=StorePolicy())
            last_retention = time.monotonic()
            console.print(f"retention: {dropped}")
        console.print(f"rollups: {total} vehicle-hours refreshed")
        if once:
            return
        deadline = time.monotonic() + interval_s
        while not stop["now"] and time.monotonic() < deadline:
            time.sleep(0.5)


@app.command("ingest")
def ingest() -> None:
    """Run the ingest service (settings from INGEST_* environment variables; see docs/ingest.md)."""
    from prometheus_client import start_http_server

    from ingest.service import IngestService
    from ingest.settings import IngestSettings

    logs.configure()
    try:
        settings = IngestSettings()
    except ValidationError as exc:
        raise _fail(f"ingest settings: {exc}") from exc
    service = IngestService(settings)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=service.metrics.registry)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await service.run(stop)

    asyncio.run(main())


@app.command("demo")
def demo(
    vehicles_count: Annotated[int, typer.Option("--vehicles")] = 20,
    minutes: Annotated[int, typer.Option(help="minutes of driving per vehicle")] = 10,
    history_vehicles: Annotated[int, typer.Option(help="cars with months of history for prediction")] = 24,
    history_days: Annotated[int, typer.Option(help="days of history for prediction (0: skip)")] = 60,
) -> None:
    """Run the main job on local services: ingest a simulated fleet live, then months of history with
    failing parts through ingest and prediction, and show the alerts raised."""
    from pitcall.demo import run_demo

    run_demo(
        ToolSettings(), vehicles=vehicles_count, minutes=minutes, history_vehicles=history_vehicles,
        history_days=history_days,
    )  # fmt: skip


@app.command("eval")
def evaluate(
    seed: int = 7,
    vehicles_count: Annotated[int, typer.Option("--vehicles")] = 200,
    days: int = 120,
    start: Annotated[str | None, typer.Option(help="first data day (default: the last day is yesterday)")] = None,
    sample_every: Annotated[
        int | None, typer.Option(help="seconds between driving samples for every car (default: each car's own)")
    ] = None,
    profile: Annotated[
        str, typer.Option(help="fleet variety: classic, standard (tuning and training) or stress (checking only)")
    ] = "standard",
    workers: int = 2,
    model_path: Annotated[Path | None, typer.Option("--model", help="model JSON (default: the shipped one)")] = None,
    report: Annotated[Path | None, typer.Option(help="write the table as Markdown here")] = None,
    truth: Annotated[Path | None, typer.Option(help="write the fleet's ground truth here")] = None,
) -> None:
    """Seeded fleet -> MQTT -> ingest -> TimescaleDB -> predict replay, scored against ground truth and baselines."""
    from datetime import date

    from pitcall.evaluate import HEADER, markdown, run_eval, table_rows, truth_json
    from predict.model import Model, shipped
    from simulators.history import Cadence
    from simulators.scenario import FleetPlan, build_fleet
    from simulators.variety import PROFILE_NAMES

    first = date.fromisoformat(start) if start else datetime.now(UTC).date() - timedelta(days=days + 1)
    if profile not in PROFILE_NAMES:
        raise typer.BadParameter(f"--profile {profile!r}: one of {', '.join(PROFILE_NAMES)}")
    plan = FleetPlan(seed=seed, vehicles=vehicles_count, start=first, days=days, prefix="eval", profile=profile)
    model = Model.load(model_path) if model_path else shipped()
    if truth:
        truth.write_text(truth_json(build_fleet(plan)))
    result = run_eval(ToolSettings(), plan, model=model, cadence=Cadence(sample_every_s=sample_every), workers=workers)
    table = Table(*HEADER, title=f"pitcall eval: seed {seed} ({profile}), {vehicles_count} vehicles x {days} days")
    for row in table_rows(result):
        table.add_row(*row)
    Console(width=160).print(table)
    console.print(", ".join(f"{k} {v:.0f}" for k, v in result.timings.items()))
    if report:
        report.write_text(markdown(result))


def main() -> None:
    app()
