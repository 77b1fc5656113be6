"""python-OBD reads a simulated car's drive through ELM327-emulator (`python -m simulators.elm_car --sim-seed`)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from edge_agent.obd_link import ObdLink
from pitcall.local_services import wait_until


@pytest.fixture
def simulated_car_port() -> Iterator[str]:
    command = [sys.executable, "-m", "simulators.elm_car", "--sim-seed", "3", "--sim-index", "1"]
    process = subprocess.Popen(
        [*command, "--start", "2026-09-01", "--speedup", "10"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    pty = process.stdout.readline().strip()
    assert pty.startswith("/dev/"), pty
    yield pty
    process.kill()
    process.wait(timeout=10)


def test_python_obd_follows_the_simulated_drive(simulated_car_port: str) -> None:
    link = ObdLink(port=simulated_car_port, baudrate=38400)
    car = link.connect()
    assert car.car_on and {"RPM", "COOLANT_TEMP", "O2_B1S1"} <= car.supported
    first = link.read(["COOLANT_TEMP", "RPM", "SHORT_FUEL_TRIM_1", "O2_B1S1"])
    assert first["RPM"] is not None and 600 < first["RPM"] < 7000
    assert first["COOLANT_TEMP"] is not None and first["COOLANT_TEMP"] < 60  # a cold start in the morning
    assert first["O2_B1S1"] is not None and 0 <= first["O2_B1S1"] <= 1.275
    cold = first["COOLANT_TEMP"]

    def warmed() -> bool:
        return (link.read(["COOLANT_TEMP"])["COOLANT_TEMP"] or 0) >= cold + 3

    wait_until(warmed, timeout_s=30, what="the engine warming up", poll_s=0.5)
    voltage = link.read_voltage()
    assert voltage is not None and 13 < voltage < 15  # charging while it runs
    link.close()
