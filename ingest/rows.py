"""Turn validated messages into the rows of one database transaction. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from ingest.dead_letters import Summary
from ingest.validate import Accepted, Rejected
from wire.v1 import DtcMessage, StatusMessage, TelemetryMessage

DEAD_LETTER_PAYLOAD_LIMIT = 64 * 1024

TelemetryRow = tuple[datetime, int, str, int, str]
DtcRow = tuple[datetime, int, str, int, bool, list[str], list[str], list[str], str | None]
StatusRow = tuple[str, bool, datetime, str | None, str | None, str | None, int | None, datetime]
DeadLetterRow = tuple[datetime, str, str | None, str, str, bytes, int]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as the broker delivered it; `ack` is the adapter's handle to acknowledge it."""

    topic: str
    payload: bytes
    received_at: datetime
    ack: object = None


@dataclass
class WriteSet:
    """Everything one batch writes, in the order that avoids lock-order deadlocks between workers."""

    telemetry: list[TelemetryRow] = field(default_factory=list)
    dtc: list[DtcRow] = field(default_factory=list)
    statuses: dict[str, StatusRow] = field(default_factory=dict)
    dead_letters: list[DeadLetterRow] = field(default_factory=list)
    invalidations: set[tuple[int, int]] = field(default_factory=set)  # (vehicle_id, hours since the epoch)
    device_progress: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    rejected_reasons: list[str] = field(default_factory=list)

    def sorted_invalidations(self) -> list[tuple[int, datetime]]:
        return [(vehicle, datetime.fromtimestamp(hour * 3600, UTC)) for vehicle, hour in sorted(self.invalidations)]

    def sorted_progress(self) -> list[tuple[str, int, datetime]]:
        return [(device, seq, seen) for device, (seq, seen) in sorted(self.device_progress.items())]


def hour_bucket(ts: datetime) -> datetime:
    """Return the start of the UTC hour holding ts (what time_bucket('1 hour') returns)."""
    return datetime.fromtimestamp(_epoch_hour(ts) * 3600, UTC)


def _epoch_hour(ts: datetime) -> int:
    return int(ts.timestamp() // 3600)


def dead_letter_row(
    delivery: Delivery, rejected: Rejected, *, max_bytes: int = DEAD_LETTER_PAYLOAD_LIMIT
) -> DeadLetterRow:
    """The dead letter of one message: its first `max_bytes` bytes and its full length."""
    payload = delivery.payload
    return (
        delivery.received_at,
        delivery.topic,
        rejected.device_id,
        rejected.reason,
        rejected.detail,
        payload[:max_bytes],
        len(payload),
    )


def summary_row(summary: Summary) -> DeadLetterRow:
    """The row standing for a device's dead letters that were counted but not kept (no payload)."""
    return (summary.received_at, summary.topic, summary.device_id, summary.reason, summary.detail, b"",
            summary.payload_bytes)  # fmt: skip


def build_write_set(
    verdicts: Sequence[tuple[Delivery, Accepted | Rejected]],
    *,
    not_kept: Container[int] = (),
    summaries: Sequence[Summary] = (),
    dead_letter_max_bytes: int = DEAD_LETTER_PAYLOAD_LIMIT,
) -> WriteSet:
    """Collect the rows for a batch of verdicts; the dead letters at indexes `not_kept` are left out
    (the rate limit counted them into `summaries`, written instead)."""
    rows = WriteSet()
    for index, (delivery, verdict) in enumerate(verdicts):
        if isinstance(verdict, Rejected):
            rows.rejected_reasons.append(verdict.reason)
            if index not in not_kept:
                rows.dead_letters.append(dead_letter_row(delivery, verdict, max_bytes=dead_letter_max_bytes))
        else:
            _add_accepted(rows, delivery, verdict)
    rows.dead_letters += [summary_row(s) for s in summaries]
    return rows


def _add_accepted(rows: WriteSet, delivery: Delivery, accepted: Accepted) -> None:
    message, vehicle_id = accepted.message, accepted.device.vehicle_id
    if isinstance(message, TelemetryMessage):
        for sample in message.samples:
            rows.telemetry.append(
                (sample.ts, vehicle_id, message.device_id, message.seq, orjson.dumps(sample.pids).decode())
            )
            rows.invalidations.add((vehicle_id, _epoch_hour(sample.ts)))
        _note_progress(rows, message.device_id, message.seq, delivery.received_at)
    elif isinstance(message, DtcMessage):
        frame = message.freeze_frame.model_dump_json() if message.freeze_frame else None
        rows.dtc.append(
            (
                message.ts,
                vehicle_id,
                message.device_id,
                message.seq,
                message.mil,
                list(message.stored),
                list(message.pending),
                list(message.permanent),
                frame,
            )
        )
        _note_progress(rows, message.device_id, message.seq, delivery.received_at)
    elif isinstance(message, StatusMessage):
        _add_status(rows, message, delivery.received_at)


def _note_progress(rows: WriteSet, device_id: str, seq: int, seen: datetime) -> None:
    previous = rows.device_progress.get(device_id)
    if previous is None:
        rows.device_progress[device_id] = (seq, seen)
    else:
        rows.device_progress[device_id] = (max(previous[0], seq), max(previous[1], seen))


def _add_status(rows: WriteSet, message: StatusMessage, received_at: datetime) -> None:
    current = rows.statuses.get(message.device_id)
    if current is not None and current[2] > message.ts:
        return
    rows.statuses[message.device_id] = (
        message.device_id,
        message.online,
        message.ts,
        message.agent_version,
        message.adapter,
        message.protocol,
        message.buffer_depth,
        received_at,
    )
