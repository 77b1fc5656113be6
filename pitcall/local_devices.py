"""The edge side for tests, benchmarks and demos: an ELM327 emulator serving a car on a pty, and the
edge agent as a real process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from pitcall.local_services import ChildProcess


@dataclass
class Elm327Emulator:
    """ELM327-emulator's `car` (simulators/elm_car.py) on a pty, reachable at a stable symlink `port`
    (like a udev rule gives a real dongle) so that it can be unplugged and plugged back in, and whose
    trouble codes the test can change while it runs."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pitcall-elm-")))
    process: subprocess.Popen[str] | None = None

    @property
    def port(self) -> str:
        return str(self.root / "obd")

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simulators.elm_car"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        pty = self.process.stdout.readline().strip()
        if not pty.startswith("/dev/"):
            raise RuntimeError(f"the emulator did not start: {pty!r}")
        link = Path(self.port)
        link.unlink(missing_ok=True)
        link.symlink_to(pty)

    def set_dtcs(self, *, stored: list[str] = [], pending: list[str] = [], permanent: list[str] = []) -> None:  # noqa: B006
        """Make the car report these trouble codes from now on (MIL on while any is stored)."""
        self._send({"dtc": {"stored": stored, "pending": pending, "permanent": permanent}})

    def ignition(self, *, on: bool) -> None:
        """Ignition off: the adapter still answers (and measures the battery), the ECU does not."""
        self._send({"scenario": "car" if on else "engineoff"})

    def set_voltage(self, volts: float) -> None:
        self._send({"voltage": volts})

    def _send(self, command: dict[str, object]) -> None:
        assert self.process is not None and self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(orjson.dumps(command).decode() + "\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "ok"

    def unplug(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        Path(self.port).unlink(missing_ok=True)

    def destroy(self) -> None:
        self.unplug()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class AgentProcess(ChildProcess):
    """`pitcall-agent` as a child process, configured by AGENT_* environment variables."""

    device_id: str
    vin: str
    adapter_port: str
    mqtt_port: int
    prefix: str
    buffer_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> AgentProcess:
        env = {
            **os.environ,
            "AGENT_DEVICE_ID": self.device_id,
            "AGENT_VIN": self.vin,
            "AGENT_ADAPTER_PORT": self.adapter_port,
            "AGENT_ADAPTER_BAUDRATE": "38400",
            "AGENT_MQTT_PORT": str(self.mqtt_port),
            "AGENT_TOPIC_PREFIX": self.prefix,
            "AGENT_BUFFER_PATH": str(self.buffer_path),
            **self.extra_env,
        }
        log = open(self.log_file(), "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen([sys.executable, "-m", "edge_agent"], env=env, stdout=log, stderr=log)
        return self

    def log_file(self) -> Path:
        return self.buffer_path.with_suffix(".log")
