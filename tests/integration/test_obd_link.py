"""python-OBD against a real ELM327 command interpreter (ELM327-emulator) through the agent's adapter."""

from __future__ import annotations

import pytest

from edge_agent.obd_link import AdapterUnavailableError, ObdLink, decode_vin, reading
from pitcall.local_devices import Elm327Emulator
from wire.pids import FAST_SET


def test_connects_and_reads_the_car(emulator: Elm327Emulator) -> None:
    link = ObdLink(port=emulator.port, baudrate=38400)
    car = link.connect()
    assert car.adapter.startswith("ELM327")
    assert "CAN" in car.protocol
    assert {"RPM", "SPEED", "COOLANT_TEMP"} <= car.supported
    values = link.read(FAST_SET)
    assert set(values) == set(FAST_SET)
    assert values["RPM"] is not None and 500 < values["RPM"] < 8000
    assert values["COOLANT_TEMP"] is not None and -40 <= values["COOLANT_TEMP"] <= 130
    voltage = link.read_voltage()
    assert voltage is not None and 11 < voltage < 15.5
    dtcs = link.read_dtcs()
    assert dtcs.stored == () and dtcs.mil is False
    link.close()


def test_an_unsupported_or_unknown_pid_is_a_gap_not_zero(emulator: Elm327Emulator) -> None:
    link = ObdLink(port=emulator.port, baudrate=38400)
    car = link.connect()
    assert "FUEL_RAIL_PRESSURE_ABS" not in car.supported
    values = link.read(["FUEL_RAIL_PRESSURE_ABS", "NOT_A_PID", "RPM"])
    assert values["FUEL_RAIL_PRESSURE_ABS"] is None and values["NOT_A_PID"] is None
    assert values["RPM"] is not None
    link.close()


def test_unplugged_adapter_raises_our_error_and_reconnects_when_back(emulator: Elm327Emulator) -> None:
    link = ObdLink(port=emulator.port, baudrate=38400, timeout_s=1.0)
    link.connect()
    emulator.unplug()
    with pytest.raises(AdapterUnavailableError):
        _read_until_it_fails(link)
    with pytest.raises(AdapterUnavailableError):
        link.connect()
    emulator.start()
    link.connect()
    assert link.read(["RPM"])["RPM"] is not None
    link.close()


def test_no_adapter_at_all_is_unavailable() -> None:
    with pytest.raises(AdapterUnavailableError):
        ObdLink(port="/dev/pitcall-no-such-adapter").connect()
    with pytest.raises(AdapterUnavailableError):
        ObdLink(port="socket://127.0.0.1:9", timeout_s=0.5).connect()


def test_decoding_helpers() -> None:
    assert decode_vin(bytearray(b"LSVAU2180N2183294")) == "LSVAU2180N2183294"
    assert decode_vin(bytearray(b"WP0ZZZ99ZTS39")) is None  # the emulator's default: too short
    assert decode_vin("LSVAU2180N218329O") is None  # O is not a VIN character
    assert reading(True) is None and reading("closed loop") is None and reading(float("nan")) is None
    assert reading(3) == 3.0


def _read_until_it_fails(link: ObdLink) -> None:
    for _ in range(5):  # the first query may still be answered from buffers
        link.read(["RPM"])


def test_trouble_codes_mil_and_freeze_frame(emulator: Elm327Emulator) -> None:
    link = ObdLink(port=emulator.port, baudrate=38400)
    link.connect()
    emulator.set_dtcs(stored=["P0301"], pending=["P0171"], permanent=["P0420"])
    dtcs = link.read_dtcs()
    assert dtcs.stored == ("P0301",) and dtcs.pending == ("P0171",) and dtcs.permanent == ("P0420",)
    assert dtcs.mil is True
    frame = link.read_freeze_frame()
    assert frame and frame.get("RPM") is not None
    emulator.set_dtcs()
    cleared = link.read_dtcs()
    assert cleared.stored == () and cleared.mil is False
    link.close()
