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
from tests.helpers import FleetUnderTest, IngestFactory, assert_nothing_lost, rows, scalar
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
    assert bytes(letter.payload) == payload[: 16 * 1024]  # INGEST_DEAD_LETTER_MAX_KIB
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


@pytest.mark.campaign
def test_a_garbage_flood_from_one_device_is_counted_summarised_and_loses_no_valid_sample(
    fleet: FleetUnderTest, ingest_factory: IngestFactory, db_url: str
) -> None:
    """Issue 18: every dead letter kept its payload, without a per-device limit. Now: at most N a minute
    and device (here 20), the first KiB of each, the rest counted in a metric and summarised in one row."""
    ingest = ingest_factory(
        extra_env={
            "INGEST_DEAD_LETTERS_PER_DEVICE_PER_MIN": "20",
            "INGEST_DEAD_LETTER_MAX_KIB": "1",
            "INGEST_DEAD_LETTER_SUMMARY_S": "1",
        }
    ).start()
    flooder = fleet.vehicles[0].device_id
    garbage_topic = _topic(fleet, flooder)
    valid = list(fleet.messages(200))  # 4 vehicles x 20 messages of 10 samples
    publisher = fleet.publisher()
    for index, message in enumerate(valid):
        publisher.publish([message], prefix=fleet.prefix)
        for _ in range(4):  # 320 garbage messages of 4 KiB between the valid ones
            publisher.publish_raw(garbage_topic, b"\xff" + b"x" * 4096 + index.to_bytes(2))
    publisher.close()
    wait_until(
        lambda: ingest.metric('pitcall_ingest_messages_rejected_total{reason="not_json"}') == 320,
        what="320 rejections counted",
    )
    assert_nothing_lost("garbage flood from one device (320 bad messages)", db_url, sent=len(valid) * 10)
    not_kept = int(ingest.metric('pitcall_ingest_dead_letters_not_kept_total{reason="not_json"}') or 0)
    assert 320 - 25 <= not_kept <= 320 - 20  # 20 at once, then one every 3 s while the flood is processed
    summary = "SELECT count(*) FROM dead_letters WHERE detail LIKE 'rate limit:%'"
    nudge, offsets = fleet.publisher(), iter(range(3_000, 3_100))  # within the past two hours

    def summarised() -> bool:  # summaries go out with the next batch once due: a trickle of valid traffic
        nudge.publish(list(fleet.messages(1, offset_s=next(offsets)))[:1], prefix=fleet.prefix)
        return bool(scalar(db_url, summary) == 1)

    wait_until(summarised, timeout_s=30, poll_s=0.5, what="the summary row")
    nudge.close()
    kept = rows(db_url, "SELECT payload, payload_bytes FROM dead_letters WHERE detail NOT LIKE 'rate limit:%'")
    assert len(kept) == 320 - not_kept
    assert all(len(bytes(r.payload)) == 1024 and r.payload_bytes == 4099 for r in kept)
    row = rows(
        db_url, "SELECT device_id, reason, detail, payload_bytes FROM dead_letters WHERE detail LIKE 'rate limit:%'"
    )
    assert [(r.device_id, r.reason) for r in row] == [(flooder, "not_json")]
    assert f"{not_kept} more dead letters" in row[0].detail and row[0].payload_bytes == not_kept * 4099
