"""`pitcall bench ...`: benchmark scripts (figures go to docs/benchmarks.md)."""

from __future__ import annotations

import typer
from rich.console import Console

from pitcall.settings import ToolSettings

bench_app = typer.Typer(help="Benchmarks (scripts, not tests).", no_args_is_help=True)
console = Console()


@bench_app.command("layout")
def bench_layout() -> None:
    """Compare telemetry table layouts (hybrid jsonb vs narrow) by COPY rate and size."""
    from pitcall.bench.layout import run
    from store.db import asyncpg_url

    for r in run(asyncpg_url(ToolSettings().database_url)):
        console.print(f"{r.layout:7s} {r.readings_per_s:12,.0f} readings/s  {r.bytes_per_reading:6.1f} B/reading")
