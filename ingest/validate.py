"""Turn one MQTT message into an accepted payload or a dead-letter verdict. Pure: no I/O.

Checks run in order: size, topic, JSON, schema, topic/payload device, registry (unknown, revoked,
VIN binding), then the time window of every timestamp. The first failure decides the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError

from wire import MAX_MESSAGE_BYTES, MessageKind, Topic, TopicError
from wire.v1 import DeviceMessage, DtcMessage, StatusMessage, TelemetryMessage

PAYLOAD_CLASSES: dict[MessageKind, type[DeviceMessage]] = {
    MessageKind.TELEMETRY: TelemetryMessage,
    MessageKind.DTC: DtcMessage,
    MessageKind.STATUS: StatusMessage,
}


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """What ingest needs to know about a provisioned device."""

    device_id: str
    vehicle_id: int
    vin: str
    active: bool


@dataclass(frozen=True, slots=True)
class Limits:
    max_sample_age: timedelta = timedelta(days=30)
    max_future: timedelta = timedelta(minutes=5)
    max_bytes: int = MAX_MESSAGE_BYTES


@dataclass(frozen=True, slots=True)
class Parsed:
    """A message whose topic, JSON and schema are valid; not yet checked against the registry."""

    topic: Topic
    message: DeviceMessage


@dataclass(frozen=True, slots=True)
class Accepted:
    message: DeviceMessage
    device: DeviceRecord


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str
    detail: str
    device_id: str | None = None


def parse(topic: str, payload: bytes, *, prefix: str, limits: Limits) -> Parsed | Rejected:
    """Check size, topic, JSON and schema of one message."""
    if len(payload) > limits.max_bytes:
        return Rejected("too_large", f"{len(payload)} bytes > {limits.max_bytes}")
    try:
        parsed_topic = Topic.parse(topic, prefix=prefix)
    except TopicError as exc:
        return Rejected("unknown_topic", str(exc))
    device_id = parsed_topic.device_id
    payload_class = PAYLOAD_CLASSES.get(parsed_topic.kind)
    if payload_class is None:
        return Rejected("unknown_topic", f"devices do not publish {parsed_topic.kind}", device_id)
    try:
        message = payload_class.model_validate_json(payload)
    except ValidationError as exc:
        return _schema_rejection(exc, device_id)
    if message.device_id != device_id:
        return Rejected(
            "topic_device_mismatch",
            f"payload device_id {message.device_id!r} on topic of {device_id!r}",
            device_id,
        )
    return Parsed(parsed_topic, message)


def _schema_rejection(exc: ValidationError, device_id: str) -> Rejected:
    errors = exc.errors(include_url=False, include_input=False)
    if any(error["type"] == "json_invalid" for error in errors):
        return Rejected("not_json", errors[0]["msg"], device_id)
    shown = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return Rejected("schema", shown + more, device_id)


def authorize(
    parsed: Parsed, *, devices: Mapping[str, DeviceRecord], now: datetime, limits: Limits
) -> Accepted | Rejected:
    """Check a parsed message against the device registry and the accepted time window."""
    message = parsed.message
    device = devices.get(message.device_id)
    if device is None:
        return Rejected("unknown_device", f"device {message.device_id!r} is not provisioned", message.device_id)
    if not device.active:
        return Rejected("revoked_device", f"device {message.device_id!r} is revoked", message.device_id)
    vin = getattr(message, "vin", None)
    if vin is not None and vin != device.vin:
        return Rejected("vin_mismatch", f"device is bound to {device.vin}, message says {vin}", message.device_id)
    out_of_range = _first_out_of_range(message, now=now, limits=limits)
    if out_of_range is not None:
        return Rejected("ts_out_of_range", out_of_range, message.device_id)
    return Accepted(message, device)


def seqs_to_confirm(parsed: Iterable[Parsed | Rejected]) -> dict[str, list[int]]:
    """Return, per device, the seqs of the messages that passed the schema check (they end up stored or
    dead-lettered, either way committed): what ingest confirms end to end once the batch has committed."""
    confirmed: dict[str, list[int]] = {}
    for verdict in parsed:
        if isinstance(verdict, Parsed) and isinstance(verdict.message, TelemetryMessage | DtcMessage):
            confirmed.setdefault(verdict.topic.device_id, []).append(verdict.message.seq)
    return confirmed


def _first_out_of_range(message: DeviceMessage, *, now: datetime, limits: Limits) -> str | None:
    oldest, newest = now - limits.max_sample_age, now + limits.max_future
    stamps = [s.ts for s in message.samples] if isinstance(message, TelemetryMessage) else [message.ts]
    for ts in stamps:
        if ts < oldest:
            return f"ts {ts.isoformat()} is older than {limits.max_sample_age} before {now.isoformat()}"
        if ts > newest:
            return f"ts {ts.isoformat()} is more than {limits.max_future} after {now.isoformat()}"
    return None
