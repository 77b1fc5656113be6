"""Ingest tells who is in its share group: Mosquitto 2.0 cannot, so each worker sends canaries to the
group and counts the workers that echo them and the canaries nobody echoes (ingest/share_group.py)."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from pitcall.local_services import Broker, wait_until
from tests.helpers import FleetUnderTest, IngestFactory, assert_nothing_lost, scalar

CANARIES = {"INGEST_CANARY_INTERVAL_S": "1", "INGEST_CANARY_TIMEOUT_S": "1"}
MEMBERS = 'pitcall_ingest_share_group_members{kind="telemetry"}'
UNANSWERED = 'pitcall_ingest_share_group_canaries_unanswered{kind="telemetry"}'


def _foreign_member(broker: Broker, prefix: str) -> mqtt.Client:
    """A client that joins ingest's share group for telemetry (what a device could do before the plugin)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="foreign-member", protocol=MQTTProtocolVersion.MQTTv5)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_: subscribed.set()
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 0  # its membership ends when it disconnects (a persistent one would not)
    client.connect("127.0.0.1", broker.port, clean_start=True, properties=properties)
    client.loop_start()
    client.subscribe(f"$share/pitcall-ingest/{prefix}/dev/+/telemetry", qos=1)
    assert subscribed.wait(10)
    return client


@pytest.mark.campaign
def test_workers_count_each_other_and_notice_a_foreign_member(
    fleet: FleetUnderTest, ingest_factory: IngestFactory, broker: Broker, prefix: str, db_url: str
) -> None:
    first = ingest_factory(extra_env=CANARIES).start()
    second = ingest_factory(extra_env=CANARIES).start()
    for worker in (first, second):
        wait_until(lambda w=worker: w.metric(MEMBERS) == 2, timeout_s=30, what="both workers answering")  # type: ignore[misc]
        assert worker.metric(UNANSWERED) == 0
    foreign = _foreign_member(broker, prefix)
    try:
        wait_until(lambda: (first.metric(UNANSWERED) or 0) > 0, timeout_s=30, what="canaries nobody answered")
        assert first.metric(MEMBERS) == 2  # the foreign member does not answer: it is not counted, it is noticed
        assert first.metric('pitcall_ingest_share_group_canaries_unanswered{kind="dtc"}') == 0
        assert "share group has a member that does not answer canaries" in first.log()
    finally:
        foreign.disconnect()
        foreign.loop_stop()
    assert scalar(db_url, "SELECT count(*) FROM dead_letters") == 0  # canaries are not data
    fleet.publish(fleet.messages(10))
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM telemetry") >= 40, what="40 samples")
    assert_nothing_lost("share group with canaries, after a foreign member left", db_url, sent=40)
