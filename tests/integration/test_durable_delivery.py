"""A broker crash (kill -9) must not lose what a device was told is safe.

With end-to-end acks (the agent's default `ack_mode`) the agent keeps every queue row until ingest
confirms the commit, and re-sends after reconnecting: nothing is lost whatever the broker forgets. With
PUBACK-only acks, Mosquitto (persistence on, no autosave since the messages arrived) loses every message
it had queued for ingest: the test measures it, because that is the guarantee docs/wire-protocol.md
states for that configuration.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.buffer import DiskBuffer
from pitcall.local_devices import AgentProcess
from pitcall.local_services import Broker, wait_until
from tests.helpers import IngestFactory, assert_nothing_lost, provision, scalar

pytestmark = [pytest.mark.slow, pytest.mark.campaign]
SAMPLES = 1000  # 50 messages of 20: the agent's whole in-flight window
PER_MESSAGE = 20


class StoreCount:
    """The broker's `$SYS/broker/store/messages/count`: how many messages it holds right now."""

    def __init__(self, broker: Broker) -> None:
        self.value = -1
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sys-{broker.port}")
        self._client.on_message = self._on_message
        self._client.on_connect = lambda c, *_: c.subscribe("$SYS/broker/store/messages/count")
        self._client.connect("127.0.0.1", broker.port)
        self._client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        self.value = int(message.payload)

    def close(self) -> None:
        self._client.loop_stop()


@pytest.fixture
def crashable_broker() -> Iterator[Broker]:
    instance = Broker(persistent=True, extra_conf="sys_interval 1\n")
    instance.start()
    yield instance
    instance.destroy()


def _fill_queue(path: Path, count: int) -> None:
    """What a dongle read while it had no connection: `count` samples waiting in its disk queue."""
    buffer = DiskBuffer(path)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for index in range(count):
        buffer.append_sample(start + timedelta(seconds=index), {"RPM": 800.0 + index, "SPEED": 30.0})
    buffer.close()


def _queue_depth(path: Path) -> int:
    return int(sqlite3.connect(path).execute("SELECT count(*) FROM samples").fetchone()[0])


def _kill_9_and_restart(broker: Broker) -> None:
    assert broker.process is not None
    broker.process.kill()
    broker.process.wait(timeout=10)
    broker.start()


@pytest.mark.parametrize(("ack_mode", "lost_expected"), [("end_to_end", False), ("broker", True)])
def test_broker_kill_9_with_a_queue_for_ingest(
    ack_mode: str,
    lost_expected: bool,
    crashable_broker: Broker,
    ingest_factory: IngestFactory,
    db_url: str,
    prefix: str,
    tmp_path: Path,
) -> None:
    vehicle = provision(db_url, 1, seed=41)[0]
    first = ingest_factory(mqtt_port=crashable_broker.port, log_dir=crashable_broker.root).start()
    assert first.terminate() == 0  # its persistent session stays: the broker queues for it (issue 18, finding 2)
    queue = tmp_path / "queue.db"
    _fill_queue(queue, SAMPLES)
    agent = AgentProcess(
        device_id=vehicle.device_id,
        vin=vehicle.vin,
        adapter_port=str(tmp_path / "no-adapter"),  # unplugged: the agent sends its backlog only
        mqtt_port=crashable_broker.port,
        prefix=prefix,
        buffer_path=queue,
        extra_env={
            "AGENT_ACK_MODE": ack_mode,
            "AGENT_ACK_TIMEOUT_S": "5",
            "AGENT_MAX_SAMPLES_PER_MESSAGE": str(PER_MESSAGE),
            "AGENT_BACKLOG_MESSAGES_PER_S": "500",
        },
    ).start()
    try:
        held = StoreCount(crashable_broker)
        try:
            if ack_mode == "broker":
                wait_until(lambda: _queue_depth(queue) == 0, timeout_s=60, what=f"every PUBACK\n{agent.log()}")
            else:  # the broker holds all 50 messages (and acknowledged them); the agent keeps its rows
                wait_until(lambda: held.value >= SAMPLES // PER_MESSAGE, timeout_s=60, what="the broker holding them")
                assert _queue_depth(queue) == SAMPLES
        finally:
            held.close()
        _kill_9_and_restart(crashable_broker)
        ingest = ingest_factory(
            client_id=first.client_id, mqtt_port=crashable_broker.port, log_dir=crashable_broker.root
        )
        ingest.start()
        if lost_expected:
            wait_until(lambda: ingest.metric("pitcall_ingest_broker_connected") == 1, what="ingest back")
        else:
            wait_until(lambda: _queue_depth(queue) == 0, timeout_s=90, what=f"every sample confirmed\n{agent.log()}")
        stored = scalar(db_url, "SELECT count(*) FROM telemetry")
        distinct = scalar(db_url, "SELECT count(DISTINCT ts) FROM telemetry")
        print(f"\nbroker kill -9, ack_mode={ack_mode}: sent {SAMPLES}, acknowledged {SAMPLES}, stored {stored}, "
              f"lost {SAMPLES - distinct}, duplicated {stored - distinct}")  # fmt: skip
        assert agent.terminate() == 0
        assert stored == distinct
        if lost_expected:
            assert stored < SAMPLES, "Mosquitto kept what it had queued: update docs/wire-protocol.md"
        else:
            assert_nothing_lost("broker kill -9 with a queue for ingest (end-to-end acks)", db_url, sent=SAMPLES)
            assert _queue_depth(queue) == 0
    finally:
        if agent.process is not None and agent.process.poll() is None:
            agent.kill()
