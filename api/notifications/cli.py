"""`pitcall notify`: run the notifier until SIGTERM or Ctrl-C."""

from __future__ import annotations

import signal
import threading

import typer
from pydantic import ValidationError

from api.notifications.settings import NotifierSettings
from api.notifications.worker import run_notifier
from pitcall import logs

app = typer.Typer(help="Outbox dispatch and delivery: webhooks and customer messages.")


@app.callback(invoke_without_command=True)
def notify() -> None:
    """Dispatch outbox events and deliver webhooks and customer messages (PITCALL_NOTIFY_* settings)."""
    logs.configure()
    try:
        settings = NotifierSettings()
    except ValidationError as exc:
        typer.echo(f"notifier settings: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run_notifier(settings, stop)
