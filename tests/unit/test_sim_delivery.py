"""Realistic delivery of one car's messages: offline backlogs, duplicates and malformed messages."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from pydantic import ValidationError

from simulators.delivery import DeliveryPlan, Flaw, deliver
from wire import dump_message
from wire.v1 import DtcMessage, Sample, TelemetryMessage

START = datetime(2026, 9, 1, 6, tzinfo=UTC)


def day_of_messages(count: int = 2000) -> list[TelemetryMessage | DtcMessage]:
    messages: list[TelemetryMessage | DtcMessage] = []
    for seq in range(1, count + 1):
        ts = START + timedelta(seconds=30 * seq)
        if seq % 100 == 0:
            messages.append(DtcMessage(v=1, device_id="sim-1-00001", vin="LSVAAAAAAAA010001", seq=seq, ts=ts,
                                       mil=True, stored=["P0301"], pending=[]))  # fmt: skip
            continue
        sample = Sample(ts=ts, pids={"RPM": 800.0 + seq, "COOLANT_TEMP": 90.0})
        messages.append(TelemetryMessage(v=1, device_id="sim-1-00001", vin="LSVAAAAAAAA010001", seq=seq,
                                         samples=[sample]))  # fmt: skip
    return messages


ROUGH = DeliveryPlan(offline_probability=1.0, offline_hours=(2.0, 4.0), duplicate_rate=0.01, malformed_rate=0.01)


def test_perfect_delivery_is_the_messages_in_order() -> None:
    messages = day_of_messages()
    delivered = deliver(messages, DeliveryPlan.perfect(), random.Random(1))
    assert [d.payload for d in delivered] == [dump_message(m) for m in messages]
    assert {d.flaw for d in delivered} == {Flaw.NONE}


def test_same_seed_same_delivery() -> None:
    messages = day_of_messages()
    assert deliver(messages, ROUGH, random.Random(5)) == deliver(messages, ROUGH, random.Random(5))
    assert deliver(messages, ROUGH, random.Random(5)) != deliver(messages, ROUGH, random.Random(6))


def test_every_message_arrives_and_duplicates_are_byte_identical() -> None:
    messages = day_of_messages()
    delivered = deliver(messages, ROUGH, random.Random(2))
    good = [d for d in delivered if d.flaw is not Flaw.MALFORMED]
    assert {d.payload for d in good} == {dump_message(m) for m in messages}
    duplicates = [d for d in delivered if d.flaw is Flaw.DUPLICATE]
    assert duplicates
    originals = {d.payload for d in good if d.flaw is not Flaw.DUPLICATE}
    assert all(d.payload in originals for d in duplicates)
    assert len(originals) == len(messages)


def test_offline_backlog_is_replayed_in_order_after_the_gap() -> None:
    messages = day_of_messages()
    delivered = [d for d in deliver(messages, ROUGH, random.Random(3)) if d.flaw is not Flaw.MALFORMED]
    backlog = [d for d in delivered if d.flaw is Flaw.BACKLOG]
    assert len(backlog) > 100  # 2 to 4 hours of messages every 30 s
    assert len({d.sent_at for d in backlog}) == 1
    gap_end = backlog[0].sent_at
    assert all(d.ts < gap_end for d in backlog)
    seqs = [orjson.loads(d.payload)["seq"] for d in delivered if d.flaw is not Flaw.DUPLICATE]
    assert seqs == sorted(seqs)  # the burst keeps production order, then live messages follow
    assert [d.sent_at for d in delivered] == sorted(d.sent_at for d in delivered)


@pytest.mark.parametrize("rate", [0.001, 0.01])
def test_malformed_rate_roughly_as_configured_and_all_rejected_by_the_schema(rate: float) -> None:
    plan = DeliveryPlan(offline_probability=0.0, duplicate_rate=0.0, malformed_rate=rate)
    malformed = []
    for seed in range(10):
        delivered = deliver(day_of_messages(), plan, random.Random(seed))
        malformed += [d for d in delivered if d.flaw is Flaw.MALFORMED]
    expected = 20_000 * rate
    assert 0.5 * expected <= len(malformed) <= 1.6 * expected
    for item in malformed:
        model = TelemetryMessage if item.kind == "telemetry" else DtcMessage
        with pytest.raises(ValidationError):
            model.model_validate_json(item.payload)
