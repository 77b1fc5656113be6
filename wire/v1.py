"""Payloads of wire protocol v1 (see docs/wire-protocol.md).

These classes describe the bytes on the wire, nothing else: ingest turns them into rows, the edge
agent and the simulators build them. Rules that need a clock or the device registry (sample age,
unknown devices, VIN binding) are checked by ingest, not here.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

MAX_SAMPLES = 1000
MAX_MESSAGE_BYTES = 256 * 1024
PID_NAME_PATTERN = re.compile(r"^[A-Z0-9_.]{1,64}$")

DeviceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Vin = Annotated[str, StringConstraints(pattern=r"^[A-HJ-NPR-Z0-9]{17}$")]
PidName = Annotated[str, StringConstraints(pattern=PID_NAME_PATTERN.pattern)]
# Free text from the device: printable, no control characters (PostgreSQL text refuses NUL).
FreeText = Annotated[str, StringConstraints(max_length=128, pattern=r"^[^\x00-\x1f\x7f]*$")]
DtcCode = Annotated[str, StringConstraints(pattern=r"^[PCBU][0-9A-F]{4}$")]
# A reading: a finite number in python-OBD's default unit, or null for "asked, no answer".
Reading = Annotated[float, Field(strict=True, allow_inf_nan=False)] | None
Pids = dict[PidName, Reading]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sample(_Payload):
    ts: AwareDatetime
    pids: Pids


class TelemetryMessage(_Payload):
    v: Literal[1]
    device_id: DeviceId
    vin: Vin
    seq: Annotated[int, Field(ge=0, lt=2**63)]
    samples: Annotated[list[Sample], Field(min_length=1, max_length=MAX_SAMPLES)]


class FreezeFrame(_Payload):
    dtc: DtcCode
    pids: Pids


class DtcMessage(_Payload):
    v: Literal[1]
    device_id: DeviceId
    vin: Vin
    seq: Annotated[int, Field(ge=0, lt=2**63)]
    ts: AwareDatetime
    mil: bool
    stored: list[DtcCode] = Field(max_length=64)
    pending: list[DtcCode] = Field(max_length=64)
    permanent: list[DtcCode] = Field(default_factory=list, max_length=64)
    freeze_frame: FreezeFrame | None = None


class StatusMessage(_Payload):
    v: Literal[1]
    device_id: DeviceId
    online: bool
    ts: AwareDatetime
    agent_version: FreeText | None = None
    adapter: FreeText | None = None
    protocol: FreeText | None = None
    buffer_depth: Annotated[int, Field(ge=0)] | None = None


class ConfigMessage(_Payload):
    v: Literal[1]
    sample_interval_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    pids: list[PidName] = Field(default_factory=list, max_length=256)
    dtc_interval_s: Annotated[float, Field(gt=0, le=86400)] = 300.0


DeviceMessage = TelemetryMessage | DtcMessage | StatusMessage


def dump_message(message: _Payload) -> bytes:
    """Serialise a payload as the JSON bytes that go on the wire."""
    return message.model_dump_json(exclude_none=False).encode()
