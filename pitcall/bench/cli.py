"""`pitcall bench ...`: benchmark scripts (figures go to docs/benchmarks.md)."""

from __future__ import annotations

import typer
from rich.console import Console

from pitcall.settings import ToolSettings

bench_app = typer.Typer(help="Benchmarks (scripts, not tests).", no_args_is_help=True)
console = Console(width=120)


@bench_app.command("layout")
def bench_layout() -> None:
    """Compare telemetry table layouts (hybrid jsonb vs narrow) by COPY rate and size."""
    from pitcall.bench.layout import run
    from store.db import asyncpg_url

    for r in run(asyncpg_url(ToolSettings().database_url)):
        console.print(f"{r.layout:7s} {r.readings_per_s:12,.0f} readings/s  {r.bytes_per_reading:6.1f} B/reading")


@bench_app.command("ingest")
def bench_ingest(
    messages: int = 20_000,
    devices: int = 100,
    latency_rate: float = 500.0,
    workers: int = typer.Option(1, help="ingest processes on the shared subscription"),
    database_url: str = typer.Option("", help="default: PITCALL_DATABASE_URL with the database pitcall_bench"),
    max_held: int = typer.Option(0, help="INGEST_MAX_HELD_MESSAGES for ingest (0: its default)"),
    acks: bool = typer.Option(True, help="ingest's end-to-end acks (INGEST_END_TO_END_ACKS)"),
) -> None:
    """Bare subscriber, raw COPY and pitcall end to end on this machine (docs/benchmarks.md)."""
    from sqlalchemy.engine import make_url

    from pitcall.bench.ingest import run
    from store.db import sqlalchemy_url

    url = database_url or make_url(sqlalchemy_url(ToolSettings().database_url)).set(database="pitcall_bench")
    url_text = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    ingest_env = {"INGEST_END_TO_END_ACKS": str(acks).lower()}
    if max_held:
        ingest_env["INGEST_MAX_HELD_MESSAGES"] = str(max_held)
    result = run(url_text, messages=messages, devices=devices, latency_rate=latency_rate, workers=workers,
                 ingest_env=ingest_env)  # fmt: skip
    console.print(
        f"messages: {result.messages:,} x {result.samples_per_message} samples x {result.pids_per_sample} PIDs"
    )
    console.print(f"bare paho QoS 1 subscriber  : {result.bare_msgs_per_s:10,.0f} msgs/s")
    console.print(
        f"raw asyncpg COPY            : {result.copy_rows_per_s:10,.0f} rows/s "
        f"({result.copy_readings_per_s:,.0f} readings/s)"
    )
    console.print(
        f"pitcall end to end ({result.workers} worker): {result.e2e_msgs_per_s:10,.0f} msgs/s "
        f"({result.e2e_readings_per_s:,.0f} readings/s) = {result.share_of_bare:.0%} of bare"
    )
    console.print(
        f"publish -> commit at {result.latency_rate_msgs_per_s:,.0f} msgs/s: "
        f"p50 {result.latency_p50_ms:.0f} ms, p99 {result.latency_p99_ms:.0f} ms"
    )
    console.print(f"lost: {result.lost}, duplicated: {result.duplicated}")
    console.print(f"ingest peak RSS (VmHWM after the drain): {result.peak_rss_mb:,.0f} MB")
    targets = result.share_of_bare >= 0.5 and result.e2e_readings_per_s >= 150_000 and not result.lost
    console.print(
        f"targets (>= 50% of bare, >= 150,000 readings/s, 0 lost, 0 duplicated): "
        f"{'met' if targets and not result.duplicated else 'NOT met'}"
    )


@bench_app.command("agent")
def bench_agent(seconds: float = 60.0, backlog: int = 100_000) -> None:
    """Edge agent: memory, CPU per sample, backlog replay rate, disk bytes per sample (docs/benchmarks.md)."""
    from pitcall.bench.agent import run

    r = run(seconds=seconds, backlog=backlog)
    console.print(f"resident memory          : {r.rss_mb:6.1f} MB (target < 60 MB)")
    console.print(f"live sampling            : {r.samples_per_s:6.2f} samples/s against ELM327-emulator")
    console.print(
        f"CPU per sample           : {r.cpu_ms_per_sample:6.1f} ms = {r.cpu_percent_at_1hz:.2f}% of a core at 1 Hz "
        "(target < 2%)"
    )
    console.print(
        f"replay of {r.backlog:,} samples : {r.replay_default_samples_per_s:8,.0f} samples/s with the "
        f"default rate limit, {r.replay_fast_samples_per_s:,.0f} samples/s unthrottled (target >= 2,000)"
    )
    console.print(
        f"disk per sample          : {r.queue_bytes_per_sample:6.1f} B in use, {r.file_bytes_per_sample:.1f} B "
        "of file (target <= 200)"
    )


@bench_app.command("predict")
def bench_predict(
    vehicles: int = 10_000,
    distinct: int = 200,
    history_days: int = 60,
    reuse: bool = typer.Option(False, help="keep the fleet a previous run set up (alerts are dropped)"),
    database_url: str = typer.Option("", help="default: PITCALL_DATABASE_URL with the database pitcall_bench_predict"),
) -> None:
    """One live scoring cycle over a large fleet (target: one day of 10,000 vehicles in < 60 s)."""
    from sqlalchemy.engine import make_url

    from pitcall.bench.predict import run
    from store.db import sqlalchemy_url

    url = database_url or make_url(sqlalchemy_url(ToolSettings().database_url)).set(
        database="pitcall_bench_predict"
    ).render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")
    r = run(url, vehicles=vehicles, distinct=distinct, history_days=history_days, reuse=reuse)
    console.print(f"fleet: {r.vehicles:,} vehicles, {r.raw_samples:,} raw samples in the last two days, "
                  f"{r.feature_days:,} kept vehicle-days of features")  # fmt: skip
    console.print(f"baseline count(*) of the raw samples : {r.count_baseline_s:6.1f} s")
    console.print(f"first cycle (reads kept history)     : {r.cold_cycle_s:6.1f} s ({r.opened} alerts opened)")
    console.print(f"every later cycle (engine warm)      : {r.warm_cycle_s:6.1f} s")
    for name, phases in (("first", r.cold_phases), ("later", r.warm_phases)):
        console.print(f"  {name} cycle phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()))
    met = r.warm_cycle_s < 60 and r.vehicles >= 10_000
    console.print(f"target (a day of 10,000 vehicles < 60 s): {'met' if met else 'NOT met'} by the running service")


@bench_app.command("rollups")
def bench_rollups(
    database_url: str = typer.Option(..., help="a database holding telemetry, e.g. an evaluation's"),
    hours: int = 48,
    spread_days: int = 1,
    repeats: int = 3,
) -> None:
    """Roll up N invalidated vehicle-hours of the last days, against a count of their samples (rolled back)."""
    from pitcall.bench.rollups import run

    for r in run(database_url, hours=hours, spread_days=spread_days, repeats=repeats):
        console.print(f"{r.hours} vehicle-hours ({r.samples:,} samples): refresh_rollups {r.refresh_s:.3f} s, "
                      f"{r.rollup_rows:,} rollup rows; baseline count(*) of the last day ({r.day_samples:,} samples) "
                      f"{r.count_baseline_s:.3f} s")  # fmt: skip


@bench_app.command("api")
def bench_api(
    rows: int = typer.Option(50_000_000, help="telemetry samples to load"),
    days: int = typer.Option(42, help="days of history (the series asks for 30)"),
    template_cars: int = typer.Option(10, help="simulated cars cloned to reach --rows"),
    reuse: bool = typer.Option(False, help="keep the fleet a previous run loaded (bookings are rebuilt)"),
    workers: int = typer.Option(1, help="uvicorn worker processes (> 1: see pitcall/bench/api.py)"),
    connections: str = typer.Option("1,4", help="wrk connections, comma-separated; one measurement each"),
    duration: float = typer.Option(20.0, help="seconds per endpoint and concurrency"),
    database_url: str = typer.Option("", help="default: PITCALL_DATABASE_URL with the database pitcall_bench_api"),
) -> None:
    """API latency through wrk: vehicle series, alert queue, slot proposal (docs/benchmarks.md)."""
    from sqlalchemy.engine import make_url

    from pitcall.bench.api import print_report, run
    from store.db import sqlalchemy_url

    url = database_url or make_url(sqlalchemy_url(ToolSettings().database_url)).set(
        database="pitcall_bench_api"
    ).render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")
    result = run(
        url,
        rows=rows,
        days=days,
        template_cars=template_cars,
        reuse=reuse,
        workers=workers,
        connections=tuple(int(c) for c in connections.split(",")),
        duration_s=duration,
        say=lambda m: console.print(f"[dim]{m}[/dim]"),
    )
    if not print_report(console, result):
        raise typer.Exit(code=1)
