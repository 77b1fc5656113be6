"""Payloads of wire protocol v1 (see docs/wire-protocol.md).

These classes describe the bytes on the wire, nothing else: ingest turns them into rows, the edge
agent and the simulators build them. Rules that need a clock or the device registry (sample age,
unknown devices, VIN binding) are checked by ingest, not here.

Types are strict: nothing is coerced. `"seq": "1"`, `"seq": 1.0`, `"v": 1.0`, `"mil": "yes"` or `1`, and a
timestamp given as a number or as a string of digits are schema errors, not values.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

MAX_SAMPLES = 1000
MAX_ACK_SEQS = 10_000
MAX_MESSAGE_BYTES = 256 * 1024
PID_NAME_PATTERN = re.compile(r"^[A-Z0-9_.]{1,64}$")
RFC3339_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: object) -> object:
    """Take a datetime, or an RFC 3339 string with an offset; refuse epoch numbers and digit strings."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not RFC3339_PATTERN.match(value):
        raise ValueError("must be an RFC 3339 timestamp with an offset, e.g. 2026-11-26T08:15:02.250Z")
    return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))


def _integer(value: object) -> object:
    """Refuse what lax parsing would turn into an integer (1.0, "1", true)."""
    if type(value) is not int:
        raise ValueError("must be a JSON integer")
    return value


DeviceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Vin = Annotated[str, StringConstraints(pattern=r"^[A-HJ-NPR-Z0-9]{17}$")]
PidName = Annotated[str, StringConstraints(pattern=PID_NAME_PATTERN.pattern)]
# Free text from the device: printable, no control characters (PostgreSQL text refuses NUL).
FreeText = Annotated[str, StringConstraints(max_length=128, pattern=r"^[^\x00-\x1f\x7f]*$")]
DtcCode = Annotated[str, StringConstraints(pattern=r"^[PCBU][0-9A-F]{4}$")]
Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]
Version = Annotated[Literal[1], BeforeValidator(_integer)]
Seq = Annotated[int, Field(ge=0, lt=2**63)]
# A reading: a finite number in python-OBD's default unit, or null for "asked, no answer".
Reading = Annotated[float, Field(strict=True, allow_inf_nan=False)] | None
Pids = dict[PidName, Reading]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Sample(_Payload):
    ts: Timestamp
    pids: Pids


class TelemetryMessage(_Payload):
    v: Version
    device_id: DeviceId
    vin: Vin
    seq: Seq
    samples: Annotated[list[Sample], Field(min_length=1, max_length=MAX_SAMPLES)]


class FreezeFrame(_Payload):
    dtc: DtcCode
    pids: Pids


class DtcMessage(_Payload):
    v: Version
    device_id: DeviceId
    vin: Vin
    seq: Seq
    ts: Timestamp
    mil: bool
    stored: list[DtcCode] = Field(max_length=64)
    pending: list[DtcCode] = Field(max_length=64)
    permanent: list[DtcCode] = Field(default_factory=list, max_length=64)
    freeze_frame: FreezeFrame | None = None


class StatusMessage(_Payload):
    v: Version
    device_id: DeviceId
    online: bool
    ts: Timestamp
    agent_version: FreeText | None = None
    adapter: FreeText | None = None
    protocol: FreeText | None = None
    buffer_depth: Annotated[int, Field(ge=0)] | None = None


class ConfigMessage(_Payload):
    v: Version
    sample_interval_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    pids: list[PidName] = Field(default_factory=list, max_length=256)
    dtc_interval_s: Annotated[float, Field(gt=0, le=86400)] = 300.0


class AckMessage(_Payload):
    """Cloud → device: these messages of yours are committed (stored, or dead-lettered); delete their data."""

    v: Version
    seqs: Annotated[list[Seq], Field(min_length=1, max_length=MAX_ACK_SEQS)]


DeviceMessage = TelemetryMessage | DtcMessage | StatusMessage


def dump_message(message: _Payload) -> bytes:
    """Serialise a payload as the JSON bytes that go on the wire."""
    return message.model_dump_json(exclude_none=False).encode()
