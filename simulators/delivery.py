"""What the broker receives from one car's dongle in a day: the messages it produced, delivered the way
real dongles deliver them. Pure and seeded: the same messages and rng state give the same delivery.

- Most messages arrive in order, when they were produced.
- Offline gaps (an underground garage, no signal): the agent keeps the messages in its disk queue and
  replays them in order, as one burst, when the car is back online. Nothing is lost.
- Duplicates: a message re-sent after a lost PUBACK (the same bytes, the same `seq`).
- Malformed messages (truncated JSON, a wrong schema, a reading sent as a string) at a small rate, as
  buggy firmware sends them; they come in addition to the good messages, so ingest dead-letters them
  and no sample is lost.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import orjson

from wire import MessageKind, dump_message
from wire.v1 import DtcMessage, TelemetryMessage

DeviceMessage = TelemetryMessage | DtcMessage


class Flaw(StrEnum):
    """Why a delivered item is not simply the next message produced."""

    NONE = "none"
    BACKLOG = "backlog"  # held during an offline gap, replayed after it
    DUPLICATE = "duplicate"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class DeliveryPlan:
    """How imperfect delivery is. Rates are per message; `offline_probability` is per car and day."""

    offline_probability: float = 0.05
    offline_hours: tuple[float, float] = (1.0, 8.0)
    duplicate_rate: float = 0.002
    malformed_rate: float = 0.001

    @classmethod
    def perfect(cls) -> DeliveryPlan:
        """Every message once, in order, well formed."""
        return cls(offline_probability=0.0, duplicate_rate=0.0, malformed_rate=0.0)


@dataclass(frozen=True, slots=True)
class Delivered:
    """One message as the broker receives it. `ts` is the message's data time, `sent_at` when it reaches
    the broker (after an offline gap: the gap's end)."""

    kind: MessageKind
    device_id: str
    payload: bytes
    ts: datetime
    sent_at: datetime
    flaw: Flaw = Flaw.NONE


def message_time(message: DeviceMessage) -> datetime:
    """Return the data time of a message: its first sample's, or the DTC reading's."""
    return message.samples[0].ts if isinstance(message, TelemetryMessage) else message.ts


def message_kind(message: DeviceMessage) -> MessageKind:
    return MessageKind.TELEMETRY if isinstance(message, TelemetryMessage) else MessageKind.DTC


def deliver(messages: Sequence[DeviceMessage], plan: DeliveryPlan, rng: random.Random) -> list[Delivered]:
    """Return the day's `messages` (in production order) as the broker receives them, in order."""
    if not messages:
        return []
    gap = _offline_gap(messages, plan, rng)
    delivered: list[Delivered] = []
    held: list[Delivered] = []
    for message in messages:
        item = on_time(message)
        if gap is not None and gap[0] <= item.ts < gap[1]:
            held.append(item)
            continue
        if held and gap is not None:
            delivered += _replay(held, at=gap[1], plan=plan, rng=rng)
            held = []
        delivered += _with_flaws(item, plan, rng)
    if held and gap is not None:
        delivered += _replay(held, at=gap[1], plan=plan, rng=rng)
    return delivered


def on_time(message: DeviceMessage) -> Delivered:
    """Return `message` delivered as produced."""
    ts = message_time(message)
    return Delivered(message_kind(message), message.device_id, dump_message(message), ts, ts)


def _offline_gap(
    messages: Sequence[DeviceMessage], plan: DeliveryPlan, rng: random.Random
) -> tuple[datetime, datetime] | None:
    """Draw today's offline period, if any: it starts between the day's first and last message."""
    if rng.random() >= plan.offline_probability:
        return None
    first, last = message_time(messages[0]), message_time(messages[-1])
    start = first + (last - first) * rng.random()
    return start, start + timedelta(hours=rng.uniform(*plan.offline_hours))


def _replay(held: list[Delivered], *, at: datetime, plan: DeliveryPlan, rng: random.Random) -> list[Delivered]:
    """Return the held messages as the backlog burst sent when the car is back online, in order."""
    burst: list[Delivered] = []
    for item in held:
        backlog = Delivered(item.kind, item.device_id, item.payload, item.ts, at, Flaw.BACKLOG)
        burst += _with_flaws(backlog, plan, rng)
    return burst


def _with_flaws(item: Delivered, plan: DeliveryPlan, rng: random.Random) -> list[Delivered]:
    """Return `item`, followed by its re-sent copy and by a garbled variant when the dice say so."""
    out = [item]
    if rng.random() < plan.duplicate_rate:
        out.append(Delivered(item.kind, item.device_id, item.payload, item.ts, item.sent_at, Flaw.DUPLICATE))
    if rng.random() < plan.malformed_rate:
        out.append(Delivered(item.kind, item.device_id, garble(item, rng), item.ts, item.sent_at, Flaw.MALFORMED))
    return out


def garble(item: Delivered, rng: random.Random) -> bytes:
    """Return a broken variant of the item's payload: truncated JSON, a wrong schema, or a string reading."""
    ways = ["truncated", "schema"] + (["string_reading"] if item.kind is MessageKind.TELEMETRY else [])
    way = rng.choice(ways)
    if way == "truncated":
        return item.payload[: max(1, len(item.payload) // 2)]
    document = orjson.loads(item.payload)
    if way == "schema":
        document["v"] = 2
        document["firmware_note"] = "unexpected field"
    else:
        pids = document["samples"][0]["pids"]
        name = next(iter(pids), "RPM")
        pids[name] = str(pids.get(name))
    return orjson.dumps(document)
