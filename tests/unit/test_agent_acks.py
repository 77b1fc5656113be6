"""The agent deletes queued data only when the message that carried it is acknowledged: on the broker's
PUBACK (`ack_mode = "broker"`) or on ingest's end-to-end ack (the default), never at publish.

The agent runs for real over a real disk queue; its MQTT side is a fake of our own `UplinkPort` that
withholds PUBACKs and acks until the test hands them over; the adapter is unplugged (a real ObdLink on a
missing port), so the agent sends its backlog only.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from edge_agent.agent import Agent
from edge_agent.buffer import DiskBuffer
from edge_agent.obd_link import ObdLink
from edge_agent.settings import AgentSettings
from wire import ConfigMessage, MessageKind

QUEUED = 30
PER_MESSAGE = 10


class WithholdingUplink:
    """Records publishes; PUBACKs and end-to-end acks reach the agent only through `puback` and `confirm`."""

    def __init__(self) -> None:
        self.connected = threading.Event()
        self.connected.set()
        self.sent: list[tuple[int, MessageKind, dict[str, object]]] = []
        self._acked: list[int] = []
        self._confirmed: list[int] = []

    def start(self) -> None:
        pass

    def stop(self, *, flush_timeout_s: float = 2.0) -> None:
        pass

    def publish(self, kind: MessageKind, payload: bytes, *, retain: bool = False) -> int:
        mid = len(self.sent) + 1
        self.sent.append((mid, kind, orjson.loads(payload)))
        return mid

    def telemetry(self) -> list[tuple[int, dict[str, object]]]:
        return [(mid, body) for mid, kind, body in self.sent if kind is MessageKind.TELEMETRY]

    def puback(self, mids: list[int]) -> None:
        self._acked += mids

    def confirm(self, seqs: list[int]) -> None:
        self._confirmed += seqs

    def acked(self) -> list[int]:
        out, self._acked = self._acked, []
        return out

    def confirmed(self) -> list[int]:
        out, self._confirmed = self._confirmed, []
        return out

    def configs(self) -> list[ConfigMessage]:
        return []


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _agent(tmp_path: Path, ack_mode: str) -> tuple[Agent, DiskBuffer, WithholdingUplink, Clock]:
    buffer = DiskBuffer(tmp_path / "queue.db", synchronous="OFF")
    start = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    for index in range(QUEUED):
        buffer.append_sample(start + timedelta(seconds=index), {"RPM": 800.0 + index})
    settings = AgentSettings(
        device_id="dongle-1",
        vin="LSVAU2180N2183294",
        adapter_port=str(tmp_path / "unplugged"),
        buffer_path=tmp_path / "queue.db",
        max_samples_per_message=PER_MESSAGE,
        backlog_messages_per_s=100,
        ack_mode=ack_mode,
        ack_timeout_s=60,
    )
    uplink, clock = WithholdingUplink(), Clock()
    agent = Agent(settings=settings, link=ObdLink(port=settings.adapter_port), buffer=buffer, uplink=uplink,
                  monotonic=clock)  # fmt: skip
    return agent, buffer, uplink, clock


def _run(agent: Agent, clock: Clock, seconds: float = 1.0) -> None:
    clock.now += seconds
    agent.cycle()


def test_broker_mode_keeps_queue_rows_until_the_puback(tmp_path: Path) -> None:
    agent, buffer, uplink, clock = _agent(tmp_path, "broker")
    _run(agent, clock)
    sent = uplink.telemetry()
    assert len(sent) == QUEUED // PER_MESSAGE
    for _ in range(5):
        _run(agent, clock)
    assert buffer.depth() == QUEUED, "data deleted at publish, before any PUBACK"
    uplink.puback([sent[0][0]])
    _run(agent, clock)
    assert buffer.depth() == QUEUED - PER_MESSAGE
    uplink.puback([mid for mid, _ in sent[1:]])
    _run(agent, clock)
    assert buffer.depth() == 0
    assert len(uplink.telemetry()) == len(sent)  # nothing sent twice


def test_end_to_end_mode_keeps_queue_rows_past_the_puback_until_ingest_confirms(tmp_path: Path) -> None:
    agent, buffer, uplink, clock = _agent(tmp_path, "end_to_end")
    _run(agent, clock)
    sent = uplink.telemetry()
    uplink.puback([mid for mid, _ in sent])
    _run(agent, clock)
    assert buffer.depth() == QUEUED, "data deleted on the broker's PUBACK: a broker crash would lose it"
    first, *rest = [int(body["seq"]) for _, body in sent]  # type: ignore[call-overload]
    uplink.confirm([first, 10**9])  # a seq the agent never sent is ignored
    _run(agent, clock)
    assert buffer.depth() == QUEUED - PER_MESSAGE
    uplink.confirm(rest)
    _run(agent, clock)
    assert buffer.depth() == 0
    assert len(uplink.telemetry()) == len(sent)


def test_end_to_end_mode_resends_what_is_unconfirmed_after_a_reconnection(tmp_path: Path) -> None:
    agent, buffer, uplink, clock = _agent(tmp_path, "end_to_end")
    _run(agent, clock)
    sent = uplink.telemetry()
    uplink.puback([mid for mid, _ in sent])  # the broker had them; then it crashed
    uplink.confirm([int(sent[0][1]["seq"])])  # type: ignore[call-overload]
    _run(agent, clock)
    uplink.connected.clear()
    _run(agent, clock)
    uplink.connected.set()
    _run(agent, clock)
    resent = uplink.telemetry()[len(sent) :]
    samples = [s["ts"] for _, body in resent for s in body["samples"]]  # type: ignore[attr-defined]
    assert len(samples) == QUEUED - PER_MESSAGE  # the two unconfirmed messages' samples, once each
    uplink.confirm([int(body["seq"]) for _, body in resent])  # type: ignore[call-overload]
    _run(agent, clock)
    assert buffer.depth() == 0


@pytest.mark.parametrize("ack_mode", ["broker", "end_to_end"])
def test_an_unacknowledged_message_is_sent_again_after_the_ack_timeout(tmp_path: Path, ack_mode: str) -> None:
    agent, buffer, uplink, clock = _agent(tmp_path, ack_mode)
    _run(agent, clock)
    _run(agent, clock, seconds=30)
    assert len(uplink.telemetry()) == QUEUED // PER_MESSAGE
    _run(agent, clock, seconds=31)  # past ack_timeout_s (60 s)
    assert len(uplink.telemetry()) == 2 * QUEUED // PER_MESSAGE
    assert buffer.depth() == QUEUED
