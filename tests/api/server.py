"""The API as production runs it: `pitcall api` (uvicorn) in its own process on a loopback port.

For tests that need what only a real server shows: the HTTP parser and body streaming, settings read
at start, the process's memory, several requests truly in parallel.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pitcall.local_services import free_port

DEV_ENV = {"PITCALL_API_ENVIRONMENT": "development"}


class ApiProcess:
    """`pitcall api --host 127.0.0.1 --port P` with the given environment, in its own process group."""

    def __init__(self, database_url: str, *, log: Path, env: dict[str, str] | None = None, workers: int = 1) -> None:
        self.port = free_port()
        self.log = log
        self.workers = workers
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PITCALL_")}
        self.env |= {"PITCALL_API_DATABASE_URL": database_url, **DEV_ENV, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, *, timeout_s: float = 60) -> ApiProcess:
        """Start and wait until /healthz answers; raise RuntimeError with the log if it exits first."""
        command = [sys.executable, "-m", "pitcall", "api", "--host", "127.0.0.1", "--port", str(self.port),
                   "--workers", str(self.workers)]  # fmt: skip
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API exited with {self.process.returncode}: {self.output()}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the API did not answer in {timeout_s} s: {self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@contextmanager
def running_api(
    database_url: str, *, log: Path, env: dict[str, str] | None = None, workers: int = 1
) -> Iterator[ApiProcess]:
    """A started ApiProcess, stopped (with its whole process group) when the block ends."""
    server = ApiProcess(database_url, log=log, env=env, workers=workers)
    try:
        yield server.start()
    finally:
        server.stop()


@dataclass(frozen=True)
class Event:
    """One server-sent event as a client reads it."""

    event: str
    data: Any
    id: str | None


def parse_events(text: str) -> list[Event]:
    """Split a text/event-stream body into events (comments and retry lines skipped)."""
    found = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            name, sep, value = line.partition(":")
            if sep and name in ("event", "data", "id"):
                fields[name] = fields.get(name, "") + value.removeprefix(" ")
        if "data" in fields:
            found.append(Event(fields.get("event", "message"), json.loads(fields["data"]), fields.get("id")))
    return found


class EventReader:
    """Read an event stream of a running server in a thread until it closes (`max_seconds`)."""

    def __init__(self, url: str, *, headers: dict[str, str], max_seconds: float) -> None:
        self.events: list[Event] = []
        self.status: int | None = None
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, headers, max_seconds), daemon=True)
        self._thread.start()

    def _read(self, url: str, headers: dict[str, str], max_seconds: float) -> None:
        buffer = ""
        with httpx.stream("GET", url, headers=headers, params={"max_seconds": max_seconds}, timeout=30) as response:
            self.status = response.status_code
            for chunk in response.iter_text():
                buffer += chunk
                complete, _, buffer = buffer.rpartition("\n\n")
                if complete:
                    self.events += parse_events(complete)
                    self.ready.set()
        self.events += parse_events(buffer)
        self.ready.set()

    def wait_ready(self, timeout_s: float = 20) -> None:
        assert self.ready.wait(timeout_s), "the stream sent nothing"

    def finish(self, timeout_s: float = 30) -> list[Event]:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the stream did not close after max_seconds"
        return self.events
