"""The generated Mosquitto password and ACL files and pitcall's subscription plugin, enforced by a real
Mosquitto: a device publishes only as itself, subscribes only to its own config (every other filter,
ingest's share group above all, is refused in the SUBACK); revoked devices and wrong secrets cannot log in."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from typer.testing import CliRunner

from pitcall.cli import app
from pitcall.local_services import Broker, wait_until
from store import fleet as registry
from store.db import make_engine
from tests.helpers import IngestFactory, assert_nothing_lost, scalar
from wire import DEFAULT_PREFIX, MessageKind, Topic, dump_message
from wire.v1 import Sample, TelemetryMessage

INGEST_PASSWORD = "ingest-secret-for-tests"
CONFIG_PASSWORD = "config-secret-for-tests"
ACCEPTED = {0, 16}  # success, or "no matching subscribers": both passed the ACL
NOT_AUTHORIZED = 135
GRANTED_QOS_1 = 1
SERVICES = ("pitcall-ingest", "pitcall-api")
VINS = {"dongle-a": "LSVAU2180N2183290", "dongle-b": "LSVAU2180N2183291"}


@pytest.fixture
def secured_broker(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Broker, dict[str, str]]]:
    secrets = {}
    with make_engine(db_url).begin() as conn:
        store_id = registry.ensure_store(conn, group_name="G", store_code="S1", store_name="S1")
        for index, device_id in enumerate(("dongle-a", "dongle-b", "dongle-revoked")):
            vin = f"LSVAU2180N218329{index}"
            registry.add_vehicle(conn, store_id=store_id, vin=vin, make="VW", model="Lavida", year=2022)
            secrets[device_id] = registry.provision_device(conn, device_id=device_id, vin=vin).secret
        registry.revoke_device(conn, device_id="dongle-revoked")
    broker = Broker(subscribe_acl=SERVICES)
    monkeypatch.setenv("PITCALL_DATABASE_URL", db_url)
    monkeypatch.setenv("INGEST_MQTT_PASSWORD", INGEST_PASSWORD)
    monkeypatch.setenv("PITCALL_CONFIG_MQTT_PASSWORD", CONFIG_PASSWORD)
    result = CliRunner().invoke(app, ["broker", "acl", "--out-dir", str(broker.root / "auth")])
    assert result.exit_code == 0, result.output
    broker.password_file, broker.acl_file = broker.root / "auth" / "passwd", broker.root / "auth" / "acl"
    broker.start()
    yield broker, secrets
    broker.destroy()


def _client(
    broker: Broker, username: str, password: str, *, persistent: bool = False
) -> tuple[mqtt.Client, ReasonCode]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=username, protocol=MQTTProtocolVersion.MQTTv5)
    client.username_pw_set(username, password)
    connected = threading.Event()
    outcome: list[ReasonCode] = []

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        outcome.append(reason)
        connected.set()

    client.on_connect = on_connect
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600 if persistent else 0
    client.connect("127.0.0.1", broker.port, clean_start=not persistent, properties=properties)
    client.loop_start()
    assert connected.wait(10), "no CONNACK"
    return client, outcome[0]


def _publish_reason(client: mqtt.Client, topic: str) -> int:
    """Publish QoS 1 and return the PUBACK reason code."""
    done = threading.Event()
    codes: list[int] = []

    def on_publish(_c: mqtt.Client, _u: object, _mid: int, reason: ReasonCode, _p: Properties) -> None:
        codes.append(reason.value)
        done.set()

    client.on_publish = on_publish
    client.publish(topic, b"{}", qos=1, retain=topic.endswith("/config"))
    assert done.wait(10), "no PUBACK"
    return codes[0]


def _subscribe_reason(client: mqtt.Client, topic: str) -> int:
    done = threading.Event()
    codes: list[int] = []

    def on_subscribe(_c: mqtt.Client, _u: object, _mid: int, reasons: list[ReasonCode], _p: Properties) -> None:
        codes.append(reasons[0].value)
        done.set()

    client.on_subscribe = on_subscribe
    client.subscribe(topic, qos=1)
    assert done.wait(10), "no SUBACK"
    return codes[0]


def test_device_publishes_only_under_its_own_topics(secured_broker: tuple[Broker, dict[str, str]]) -> None:
    broker, secrets = secured_broker
    device, reason = _client(broker, "dongle-a", secrets["dongle-a"])
    assert not reason.is_failure
    for kind in (MessageKind.TELEMETRY, MessageKind.DTC, MessageKind.STATUS):
        assert _publish_reason(device, str(Topic("dongle-a", kind))) in ACCEPTED
        assert _publish_reason(device, str(Topic("dongle-b", kind))) == NOT_AUTHORIZED
    assert _publish_reason(device, str(Topic("dongle-a", MessageKind.CONFIG))) == NOT_AUTHORIZED
    device.loop_stop()


def test_device_reads_only_its_own_config(secured_broker: tuple[Broker, dict[str, str]]) -> None:
    broker, secrets = secured_broker
    api, _ = _client(broker, "pitcall-api", CONFIG_PASSWORD)
    for device_id in ("dongle-b", "dongle-a"):  # retained, so a later subscriber gets them
        assert _publish_reason(api, str(Topic(device_id, MessageKind.CONFIG))) in ACCEPTED
    assert _publish_reason(api, str(Topic("dongle-a", MessageKind.TELEMETRY))) == NOT_AUTHORIZED
    device, _ = _client(broker, "dongle-a", secrets["dongle-a"])
    seen: list[str] = []
    got_own = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        seen.append(message.topic)
        if "dongle-a" in message.topic:
            got_own.set()

    device.on_message = on_message
    assert _subscribe_reason(device, "pitcall/v1/dev/+/config") == NOT_AUTHORIZED
    assert _subscribe_reason(device, "pitcall/v1/dev/+/telemetry") == NOT_AUTHORIZED
    assert _subscribe_reason(device, "pitcall/v1/dev/dongle-a/config") == GRANTED_QOS_1
    assert got_own.wait(10)
    assert _subscribe_reason(device, "pitcall/v1/dev/dongle-b/config") == NOT_AUTHORIZED
    # Mosquitto sends a subscription's retained messages right after its SUBACK, so by the last SUBACK every
    # earlier subscription has delivered what it would: only the device's own config.
    assert seen == ["pitcall/v1/dev/dongle-a/config"]
    device.loop_stop()


def test_ingest_account_reads_every_device_on_the_shared_subscription(
    secured_broker: tuple[Broker, dict[str, str]],
) -> None:
    broker, secrets = secured_broker
    ingest, reason = _client(broker, "pitcall-ingest", INGEST_PASSWORD)
    assert not reason.is_failure
    assert _subscribe_reason(ingest, "$share/pitcall-ingest/pitcall/v1/dev/+/telemetry") == 1
    received = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith("dongle-b/telemetry"):
            received.set()

    ingest.on_message = on_message
    device, _ = _client(broker, "dongle-b", secrets["dongle-b"])
    assert _publish_reason(device, str(Topic("dongle-b", MessageKind.TELEMETRY))) in ACCEPTED
    assert received.wait(10)
    assert (
        _publish_reason(ingest, str(Topic("dongle-b", MessageKind.TELEMETRY))) == NOT_AUTHORIZED
    )  # ingest cannot forge


FORBIDDEN_FILTERS = (
    "$share/pitcall-ingest/pitcall/v1/dev/+/telemetry",  # ingest's share group: the theft of issue 18
    "$share/pitcall-ingest/pitcall/v1/dev/+/dtc",
    "$share/pitcall-ingest/pitcall/v1/dev/+/status",
    "$share/pitcall-ingest/pitcall/v1/dev/dongle-b/telemetry",
    "$share/pitcall-ingest/#",
    "$share/mine/pitcall/v1/dev/+/telemetry",
    "$share/mine/pitcall/v1/dev/dongle-a/config",
    "pitcall/v1/dev/+/telemetry",
    "pitcall/v1/dev/dongle-b/telemetry",
    "pitcall/v1/dev/dongle-a/telemetry",
    "pitcall/v1/dev/dongle-b/config",
    "pitcall/v1/dev/dongle-b/ack",
    "pitcall/v1/dev/+/config",
    "pitcall/v1/dev/dongle-a/+",
    "pitcall/v1/#",
    "+/+/+/+/+",
    "#",
    "$SYS/#",
)


def _telemetry(device_id: str, count: int) -> list[TelemetryMessage]:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    return [
        TelemetryMessage(
            v=1,
            device_id=device_id,
            vin=VINS[device_id],
            seq=seq,
            samples=[Sample(ts=start + timedelta(seconds=seq), pids={"RPM": 800.0 + seq})],
        )
        for seq in range(count)
    ]


def _publish_all(client: mqtt.Client, messages: list[TelemetryMessage]) -> None:
    infos = [client.publish(str(Topic(m.device_id, MessageKind.TELEMETRY)), dump_message(m), qos=1) for m in messages]
    for info in infos:
        info.wait_for_publish(timeout=30)
        assert info.is_published()


@pytest.mark.campaign
def test_a_device_cannot_join_ingests_share_group_and_ingest_loses_nothing(
    secured_broker: tuple[Broker, dict[str, str]], ingest_factory: IngestFactory, db_url: str
) -> None:
    """Issue 18, finding 1: a dongle subscribing to `$share/pitcall-ingest/...` took half of everything."""
    broker, secrets = secured_broker
    ingest = ingest_factory(
        mqtt_port=broker.port,
        log_dir=broker.root,
        prefix=DEFAULT_PREFIX,
        extra_env={"INGEST_MQTT_USERNAME": "pitcall-ingest", "INGEST_MQTT_PASSWORD": INGEST_PASSWORD,
                   "INGEST_CANARY_INTERVAL_S": "1", "INGEST_CANARY_TIMEOUT_S": "1"},
    ).start()  # fmt: skip
    hostile, _ = _client(broker, "dongle-a", secrets["dongle-a"], persistent=True)
    stolen: list[str] = []
    hostile.on_message = lambda _c, _u, message: stolen.append(message.topic)
    codes = {topic: _subscribe_reason(hostile, topic) for topic in FORBIDDEN_FILTERS}
    assert codes == dict.fromkeys(FORBIDDEN_FILTERS, NOT_AUTHORIZED)
    assert _subscribe_reason(hostile, "pitcall/v1/dev/dongle-a/config") == GRANTED_QOS_1
    assert _subscribe_reason(hostile, "pitcall/v1/dev/dongle-a/ack") == GRANTED_QOS_1
    for kind in ("telemetry", "dtc", "status"):  # ingest's canaries (through the ACL) find no other member
        wait_until(lambda k=kind: ingest.metric(f'pitcall_ingest_share_group_members{{kind="{k}"}}') == 1,  # type: ignore[misc]
                   timeout_s=30, what=f"ingest's canary round ({kind})")  # fmt: skip
        assert ingest.metric(f'pitcall_ingest_share_group_canaries_unanswered{{kind="{kind}"}}') == 0

    victim, _ = _client(broker, "dongle-b", secrets["dongle-b"])
    messages = _telemetry("dongle-b", 400)
    _publish_all(victim, messages[:200])  # while the hostile device listens
    hostile.disconnect()  # and while its persistent session waits offline
    hostile.loop_stop()
    _publish_all(victim, messages[200:])
    victim.disconnect()
    victim.loop_stop()

    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM telemetry") >= 400, timeout_s=60, what="400 samples")
    assert scalar(db_url, "SELECT count(DISTINCT seq) FROM telemetry WHERE device_id = 'dongle-b'") == 400
    assert_nothing_lost("hostile device subscribing to the share group", db_url, sent=400)
    assert scalar(db_url, "SELECT count(*) FROM dead_letters") == 0
    assert stolen == []
    assert "refused dongle-a a subscription to $share/pitcall-ingest/" in (broker.root / "mosquitto.log").read_text()


@pytest.mark.parametrize(
    ("username", "which"),
    [("dongle-revoked", "dongle-revoked"), ("dongle-a", "dongle-b"), ("ghost", "dongle-a")],
)
def test_revoked_unknown_or_wrong_secret_cannot_connect(
    secured_broker: tuple[Broker, dict[str, str]], username: str, which: str
) -> None:
    broker, secrets = secured_broker
    client, reason = _client(broker, username, secrets[which])
    client.loop_stop()
    assert reason.is_failure


def _logs_in(broker: Broker, username: str, password: str) -> bool:
    client, reason = _client(broker, username, password)
    client.loop_stop()
    client.disconnect()
    return not reason.is_failure


def _store_with_two_cars(db_url: str) -> None:
    with make_engine(db_url).begin() as conn:
        store_id = registry.ensure_store(conn, group_name="G", store_code="S1", store_name="S1")
        for index in range(2):
            registry.add_vehicle(conn, store_id=store_id, vin=f"LSVAU2180N218330{index}", make="VW", model="Lavida",
                                 year=2022)  # fmt: skip


def _broker_on_generated_files(db_url: str, auth: Path) -> tuple[Broker, dict[str, str]]:
    """Write the files once with the CLI, start a Mosquitto that reads them; return it and the CLI's env."""
    env = {**os.environ, "PITCALL_DATABASE_URL": db_url, "INGEST_MQTT_PASSWORD": INGEST_PASSWORD}
    once = subprocess.run([sys.executable, "-m", "pitcall", "broker", "acl", "--out-dir", str(auth)], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert once.returncode == 0, once.stderr
    broker = Broker(password_file=auth / "passwd", acl_file=auth / "acl")
    broker.start()
    return broker, env


def _provision(db_url: str, device_id: str, vin: str) -> str:
    with make_engine(db_url).begin() as conn:
        return registry.provision_device(conn, device_id=device_id, vin=vin).secret


def test_the_watcher_lets_a_device_provisioned_later_log_in_and_locks_a_revoked_one_out(
    db_url: str, tmp_path: Path
) -> None:
    _store_with_two_cars(db_url)
    first = _provision(db_url, "dongle-first", "LSVAU2180N2183300")
    auth = tmp_path / "auth"
    broker, env = _broker_on_generated_files(db_url, auth)
    assert broker.process is not None
    pid_file = tmp_path / "mosquitto.pid"
    pid_file.write_text(f"{broker.process.pid}\n")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "pitcall", "broker", "acl", "--out-dir", str(auth), "--watch", "--interval", "0.2",
         "--reload-pid-file", str(pid_file)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert _logs_in(broker, "dongle-first", first)
        later = _provision(db_url, "dongle-later", "LSVAU2180N2183301")
        wait_until(lambda: _logs_in(broker, "dongle-later", later), timeout_s=30, what="the new dongle's login")
        with make_engine(db_url).begin() as conn:
            registry.revoke_device(conn, device_id="dongle-first")
        wait_until(lambda: not _logs_in(broker, "dongle-first", first), timeout_s=30, what="the revoked login refused")
        assert _logs_in(broker, "dongle-later", later)
        assert "dongle-first" not in (auth / "passwd").read_text()
    finally:
        watcher.send_signal(signal.SIGTERM)
        output, _ = watcher.communicate(timeout=30)
        broker.destroy()
    assert watcher.returncode == 0, output
    assert "told to reload" in output


def test_without_the_watcher_a_device_provisioned_later_cannot_log_in(db_url: str, tmp_path: Path) -> None:
    """What the watcher is for (and proof that the test above would notice it missing)."""
    _store_with_two_cars(db_url)
    broker, _ = _broker_on_generated_files(db_url, tmp_path / "auth")
    try:
        later = _provision(db_url, "dongle-later", "LSVAU2180N2183301")
        time.sleep(1.0)
        assert not _logs_in(broker, "dongle-later", later)
    finally:
        broker.destroy()
