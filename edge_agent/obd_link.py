"""The only place that talks to the car: python-OBD behind a small interface.

python-OBD reports most failures by returning null responses or a NOT_CONNECTED status rather than
raising; this adapter turns them into `AdapterUnavailableError` (back off, reconnect) and per-PID gaps
(`None`), and never lets a python-OBD or pyserial exception escape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import obd
import serial
from obd import OBDStatus

from wire.v1 import PID_NAME_PATTERN

log = logging.getLogger(__name__)
VIN_CHARS = set("ABCDEFGHJKLMNPRSTUVWXYZ0123456789")
# Mode 0A (permanent DTCs) is not among python-OBD's commands; same answer format as Mode 03.
GET_PERMANENT_DTC = obd.OBDCommand(
    "GET_PERMANENT_DTC", "Get permanent DTCs", b"0A", 0, obd.decoders.dtc, obd.ECU.ALL, False
)
FREEZE_FRAME_PIDS = (
    "RPM",
    "SPEED",
    "ENGINE_LOAD",
    "COOLANT_TEMP",
    "SHORT_FUEL_TRIM_1",
    "LONG_FUEL_TRIM_1",
    "INTAKE_PRESSURE",
    "INTAKE_TEMP",
    "MAF",
    "THROTTLE_POS",
    "FUEL_STATUS",
)


class AdapterError(Exception):
    """Base of the adapter's errors."""


class AdapterUnavailableError(AdapterError):
    """No usable adapter or car: unplugged, ignition off, or an adapter that fails its init."""


@dataclass(frozen=True, slots=True)
class CarInfo:
    vin: str | None
    adapter: str
    protocol: str
    supported: frozenset[str]
    car_on: bool = True  # False: the adapter answers but no ECU does (ignition off); only ELM_VOLTAGE works


@dataclass(frozen=True, slots=True)
class DtcSnapshot:
    mil: bool
    stored: tuple[str, ...]
    pending: tuple[str, ...]
    permanent: tuple[str, ...]


def decode_vin(raw: Any) -> str | None:
    """Return a valid 17-character VIN from python-OBD's answer, or None."""
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("ascii", errors="ignore")
    if not isinstance(raw, str):
        return None
    vin = "".join(ch for ch in raw.strip().upper() if ch.isalnum())
    return vin if len(vin) == 17 and set(vin) <= VIN_CHARS else None


def name_is_adapter_command(command: Any) -> bool:
    """Adapter commands (AT...) are answered by the dongle itself, car on or off."""
    return bytes(getattr(command, "command", b"")).startswith(b"AT")


def _codes(pairs: Any) -> tuple[str, ...]:
    """Return sorted unique DTC codes from python-OBD's [(code, description), ...]."""
    return tuple(sorted({code for code, _ in pairs if isinstance(code, str)}))


def reading(value: Any) -> float | None:
    """Return a number in python-OBD's default unit, or None when there is no numeric answer."""
    magnitude = getattr(value, "magnitude", value)
    if isinstance(magnitude, bool) or not isinstance(magnitude, (int, float)):
        return None
    number = float(magnitude)
    return number if number == number and abs(number) != float("inf") else None


class ObdLink:
    """One ELM327 adapter reached through a serial port, RFCOMM device, pty or socket:// URL."""

    def __init__(self, *, port: str, baudrate: int | None = None, timeout_s: float = 2.0) -> None:
        self._port = port
        self._baudrate = baudrate
        self._timeout_s = timeout_s
        self._connection: obd.OBD | None = None

    def connect(self) -> CarInfo:
        """Open the adapter and look for the car; raise AdapterUnavailableError if the adapter is missing.

        With the ignition off the adapter still answers (and measures the battery): that returns a
        CarInfo with `car_on=False` and an open connection for `read_voltage`."""
        self.close()
        try:
            connection = obd.OBD(
                self._port, baudrate=self._baudrate, fast=False, timeout=self._timeout_s, check_voltage=False
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise AdapterUnavailableError(f"cannot open {self._port}: {exc}") from exc
        status = connection.status()
        if status == OBDStatus.NOT_CONNECTED:
            connection.close()
            raise AdapterUnavailableError(f"adapter on {self._port} does not answer")
        self._connection = connection
        if status != OBDStatus.CAR_CONNECTED:
            adapter = str(self._value("ELM_VERSION") or "ELM327")
            return CarInfo(vin=None, adapter=adapter, protocol="", supported=frozenset(), car_on=False)
        supported = frozenset(c.name for c in connection.supported_commands)
        return CarInfo(
            vin=decode_vin(self._value("VIN")),
            adapter=str(self._value("ELM_VERSION") or "ELM327"),
            protocol=str(connection.protocol_name()),
            supported=supported,
        )

    def read(self, names: Iterable[str]) -> dict[str, float | None]:
        """Query each PID once; a missing or non-numeric answer is a gap (None), never 0."""
        return {name: reading(self._value(name)) for name in names if PID_NAME_PATTERN.match(name)}

    def read_voltage(self) -> float | None:
        """Battery voltage at the OBD port, as the adapter measures it (works with the engine off)."""
        return reading(self._value("ELM_VOLTAGE"))

    def read_dtcs(self) -> DtcSnapshot:
        """Stored (Mode 03), pending (Mode 07) and permanent (Mode 0A, where supported) codes and the MIL."""
        status = self._value("STATUS")
        stored = self._value("GET_DTC") or []
        pending = self._value("GET_CURRENT_DTC") or []
        permanent = self._query(GET_PERMANENT_DTC, force=True) or []
        return DtcSnapshot(
            mil=bool(getattr(status, "MIL", False)),
            stored=_codes(stored),
            pending=_codes(pending),
            permanent=_codes(permanent),
        )

    def read_monitors(self, names: Iterable[str]) -> dict[str, float | None]:
        """Mode 06 results flattened as `COMMAND.TEST_NAME` (e.g. MONITOR_MISFIRE_CYLINDER_1.MISFIRE_COUNT)."""
        values: dict[str, float | None] = {}
        for name in names:
            monitor = self._value_forced(name)
            for test in getattr(monitor, "tests", []) or []:
                key = f"{name}.{test.name}" if getattr(test, "name", None) else None
                if key and PID_NAME_PATTERN.match(key):
                    values[key] = reading(test.value)
        return values

    def read_freeze_frame(self) -> dict[str, float | None]:
        """The Mode 02 snapshot the ECU took when the code that set the MIL appeared (PIDs it supports)."""
        supported = {c.name for c in self._connection.supported_commands} if self._connection else set()
        names = [n for n in FREEZE_FRAME_PIDS if f"DTC_{n}" in supported]
        return {name: reading(self._value(f"DTC_{name}")) for name in names}

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except (serial.SerialException, OSError) as exc:
                log.debug("closing adapter failed", extra={"error": str(exc)})
            self._connection = None

    def _value(self, name: str) -> Any:
        if not obd.commands.has_name(name):
            return None
        return self._query(obd.commands[name], force=name.startswith("ELM_") or name == "VIN")

    def _value_forced(self, name: str) -> Any:
        """Query a command python-OBD did not find in the support bitmaps (Mode 06 often is not)."""
        return self._query(obd.commands[name], force=True) if obd.commands.has_name(name) else None

    def _query(self, command: obd.OBDCommand, *, force: bool) -> Any:
        if self._connection is None:
            raise AdapterUnavailableError("adapter is not connected")
        try:
            response = self._connection.query(command, force=force)
        except (serial.SerialException, OSError, ValueError, IndexError, TypeError) as exc:
            self.close()
            raise AdapterUnavailableError(f"adapter stopped answering: {exc}") from exc
        if self._connection.status() == OBDStatus.NOT_CONNECTED:
            self.close()
            raise AdapterUnavailableError("adapter disconnected")
        if not response.messages and name_is_adapter_command(command):
            self.close()  # the adapter itself stopped answering (python-OBD reports that as a null response)
            raise AdapterUnavailableError("adapter stopped answering")
        return None if response.is_null() else response.value
