"""The API as production runs it: `pitcall api` (uvicorn) in its own process on a loopback port.

For tests that need what only a real server shows: the HTTP parser and body streaming, settings read
at start, the process's memory, several requests truly in parallel.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
