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
        """Open the adapter and find the car; raise AdapterUnavailableError if either is missing."""
        self.close()
        try:
            connection = obd.OBD(
                self._port, baudrate=self._baudrate, fast=False, timeout=self._timeout_s, check_voltage=False
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise AdapterUnavailableError(f"cannot open {self._port}: {exc}") from exc
        if connection.status() != OBDStatus.CAR_CONNECTED:
            status = connection.status()
            connection.close()
            raise AdapterUnavailableError(f"adapter on {self._port} is {status}")
        self._connection = connection
        supported = frozenset(c.name for c in connection.supported_commands)
        return CarInfo(
            vin=decode_vin(self._value("VIN")),
            adapter=str(self._value("ELM_VERSION") or "ELM327"),
            protocol=str(connection.protocol_name()),
            supported=supported,
        )

    @property
    def connected(self) -> bool:
        return self._connection is not None and self._connection.status() == OBDStatus.CAR_CONNECTED

    def read(self, names: Iterable[str]) -> dict[str, float | None]:
        """Query each PID once; a missing or non-numeric answer is a gap (None), never 0."""
        return {name: reading(self._value(name)) for name in names if PID_NAME_PATTERN.match(name)}

    def read_voltage(self) -> float | None:
        """Battery voltage at the OBD port, as the adapter measures it (works with the engine off)."""
        return reading(self._value("ELM_VOLTAGE"))

    def read_dtcs(self) -> DtcSnapshot:
        """Stored (Mode 03) and pending (Mode 07) codes and the MIL state."""
        status = self._value("STATUS")
        stored = self._value("GET_DTC") or []
        pending = self._value("GET_CURRENT_DTC") or []
        return DtcSnapshot(
            mil=bool(getattr(status, "MIL", False)),
            stored=tuple(sorted({c for c, _ in stored})),
            pending=tuple(sorted({c for c, _ in pending})),
            permanent=(),
        )

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except (serial.SerialException, OSError) as exc:
                log.debug("closing adapter failed", extra={"error": str(exc)})
            self._connection = None

    def _value(self, name: str) -> Any:
        if self._connection is None:
            raise AdapterUnavailableError("adapter is not connected")
        if not obd.commands.has_name(name):
            return None
        try:
            response = self._connection.query(obd.commands[name], force=name.startswith("ELM_") or name == "VIN")
        except (serial.SerialException, OSError, ValueError, IndexError, TypeError) as exc:
            self.close()
            raise AdapterUnavailableError(f"adapter stopped answering: {exc}") from exc
        if self._connection.status() == OBDStatus.NOT_CONNECTED:
            self.close()
            raise AdapterUnavailableError("adapter disconnected")
        return None if response.is_null() else response.value
