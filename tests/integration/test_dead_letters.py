"""Every rejection reason ends in dead_letters with the raw bytes, is acknowledged, and does not stop
the valid messages around it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import text

from pitcall.local_services import wait_until
from simulators.fleet import SimulatedVehicle
from store import fleet as registry
from store.db import make_engine
from tests.helpers import FleetUnderTest, IngestFactory, rows, scalar
from wire import MessageKind, Topic, dump_message
from wire.v1 import StatusMessage

NOW = datetime.now(UTC)


def _telemetry(vehicle: SimulatedVehicle, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "v": 1,
        "device_id": vehicle.device_id,
        "vin": vehicle.vin,
        "seq": 99,
        "samples": [{"ts": (NOW - timedelta(minutes=5)).isoformat(), "pids": {"RPM": 800}}],
    }
    body.update(changes)
    return body


def _topic(fleet: FleetUnderTest, device_id: str, kind: MessageKind = MessageKind.TELEMETRY) -> str:
    return str(Topic(device_id, kind, fleet.prefix))


def _revoked(fleet: FleetUnderTest, db_url: str) -> tuple[str, bytes]:
    vehicle = fleet.vehicles[3]
    with make_engine(db_url).begin() as conn:
        registry.revoke_device(conn, device_id=vehicle.device_id)
    return _topic(fleet, vehicle.device_id), orjson.dumps(_telemetry(vehicle))


Case = Callable[[FleetUnderTest, str], tuple[str, bytes]]
CASES: dict[str, Case] = {
    "not_json": lambda f, db: (_topic(f, f.vehicles[0].device_id), b'{"v": 1, "samples": [ \xff\xfe'),
    "schema": lambda f, db: (
        _topic(f, f.vehicles[0].device_id),
        orjson.dumps(_telemetry(f.vehicles[0], samples=[{"ts": "yesterday", "pids": {}}])),
    ),
    "too_large": lambda f, db: (_topic(f, f.vehicles[0].device_id), b"{" + b" " * (256 * 1024) + b"}"),
    "unknown_device": lambda f, db: (
        _topic(f, "ghost-0001"),
        orjson.dumps(_telemetry(f.vehicles[0], device_id="ghost-0001")),
    ),
    "revoked_device": lambda f, db: _revoked(f, db),
    "vin_mismatch": lambda f, db: (
        _topic(f, f.vehicles[0].device_id),
        orjson.dumps(_telemetry(f.vehicles[0], vin=f.vehicles[1].vin)),
    ),
    "ts_out_of_range": lambda f, db: (
        _topic(f, f.vehicles[0].device_id),
        orjson.dumps(
            _telemetry(f.vehicles[0], samples=[{"ts": (NOW - timedelta(days=31)).isoformat(), "pids": {"RPM": 1}}])
        ),
    ),
    "topic_device_mismatch": lambda f, db: (
        _topic(f, f.vehicles[1].device_id),
        orjson.dumps(_telemetry(f.vehicles[0])),
    ),
}


@pytest.mark.parametrize("reason", sorted(CASES))
def test_rejected_message_is_dead_lettered_and_valid_traffic_continues(
    reason: str, fleet: FleetUnderTest, ingest_factory: IngestFactory, db_url: str
) -> None:
    topic, payload = CASES[reason](fleet, db_url)
    ingest = ingest_factory().start()
    valid = list(fleet.messages(20))[:6]  # vehicles 0..2: 2 messages of 10 samples each
    publisher = fleet.publisher()
    publisher.publish(valid[:3], prefix=fleet.prefix)
    publisher.publish_raw(topic, payload)
    publisher.publish(valid[3:], prefix=fleet.prefix)
    publisher.close()

    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM dead_letters") == 1, what="one dead letter")
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM telemetry") == 60, what="valid samples around it")
    letter = rows(db_url, "SELECT topic, reason, detail, payload, payload_bytes FROM dead_letters")[0]
    assert letter.reason == reason
    assert letter.topic == topic
    assert letter.detail
    assert letter.payload_bytes == len(payload)
    assert bytes(letter.payload) == payload[: 64 * 1024]
    wait_until(
        lambda: ingest.metric(f'pitcall_ingest_messages_rejected_total{{reason="{reason}"}}') == 1,
        what="rejection counted",
    )
    assert ingest.process is not None and ingest.process.poll() is None


def test_dead_letters_are_acknowledged_not_redelivered(
    fleet: FleetUnderTest, ingest_factory: IngestFactory, db_url: str
) -> None:
    first = ingest_factory().start()
    publisher = fleet.publisher()
    publisher.publish_raw(_topic(fleet, fleet.vehicles[0].device_id), b"not json at all")
    publisher.close()
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM dead_letters") == 1, what="dead letter")
    assert first.terminate() == 0
    second = ingest_factory(client_id=first.client_id).start()
    fleet.publish(list(fleet.messages(10))[:1])
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM telemetry") == 10, what="later traffic")
    assert second.metric("pitcall_ingest_messages_received_total") == 1
    assert scalar(db_url, "SELECT count(*) FROM dead_letters") == 1


def test_revocation_is_honoured_by_a_running_ingest(
    fleet: FleetUnderTest, ingest_factory: IngestFactory, db_url: str
) -> None:
    ingest_factory(extra_env={"INGEST_DEVICE_REFRESH_S": "0.5"}).start()
    vehicle = fleet.vehicles[0]
    first, second = list(fleet.messages(20))[:2]
    fleet.publish([first])
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM telemetry") == 10, what="accepted before revocation")
    with make_engine(db_url).begin() as conn:
        registry.revoke_device(conn, device_id=vehicle.device_id)
    time.sleep(1.0)  # two refresh periods
    fleet.publish([second])
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM dead_letters") == 1, what="dead letter after revocation")
    assert scalar(db_url, "SELECT reason FROM dead_letters") == "revoked_device"
    assert scalar(db_url, "SELECT count(*) FROM telemetry") == 10


def test_a_message_the_database_refuses_is_isolated_and_dead_lettered(
    fleet: FleetUnderTest, ingest_factory: IngestFactory, db_url: str
) -> None:
    # A rule only the database knows (as a future constraint might be): ingest must not get stuck on it.
    with make_engine(db_url).begin() as conn:
        conn.execute(text("ALTER TABLE device_status ADD CONSTRAINT sane_buffer CHECK (buffer_depth < 1000000)"))
    vehicle = fleet.vehicles[0]
    status = StatusMessage(v=1, device_id=vehicle.device_id, online=True, ts=NOW, buffer_depth=5_000_000)
    ingest = ingest_factory(extra_env={"INGEST_BATCH_MAX_WAIT_S": "1"}).start()
    publisher = fleet.publisher()
    valid = list(fleet.messages(20))[:4]
    publisher.publish(valid[:2], prefix=fleet.prefix)
    publisher.publish_raw(str(Topic(vehicle.device_id, MessageKind.STATUS, fleet.prefix)), dump_message(status))
    publisher.publish(valid[2:], prefix=fleet.prefix)
    publisher.close()
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM dead_letters") == 1, what="refused message dead-lettered")
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM telemetry") == 40, what="the rest of its batch stored")
    letter = rows(db_url, "SELECT reason, detail, device_id FROM dead_letters")[0]
    assert letter.reason == "schema"
    assert "refused by the database" in letter.detail and "sane_buffer" in letter.detail
    assert letter.device_id == vehicle.device_id
    assert ingest.process is not None and ingest.process.poll() is None
