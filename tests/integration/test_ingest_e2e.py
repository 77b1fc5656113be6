"""Publish → stored, through the real broker, the real ingest process and real TimescaleDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson

from pitcall.local_services import wait_until
from tests.helpers import FleetUnderTest, IngestFactory, rows, scalar
from wire import MessageKind, Topic, dump_message
from wire.v1 import DtcMessage, FreezeFrame, Sample, StatusMessage, TelemetryMessage


def test_published_telemetry_is_stored_with_readings_and_gaps(
    fleet: FleetUnderTest, ingest_factory: IngestFactory, db_url: str
) -> None:
    ingest = ingest_factory().start()
    vehicle = fleet.vehicles[0]
    ts = datetime.now(UTC).replace(microsecond=250_000) - timedelta(minutes=3)
    message = TelemetryMessage(
        v=1,
        device_id=vehicle.device_id,
        vin=vehicle.vin,
        seq=1207,
        samples=[
            Sample(
                ts=ts,
                pids={
                    "RPM": 812.5,
                    "COOLANT_TEMP": 88,
                    "ELM_VOLTAGE": 14.1,
                    "O2_B1S2": None,
                    "MONITOR_MISFIRE_CYLINDER_1.MISFIRE_COUNT": 0,
                },
            ),
            Sample(ts=ts + timedelta(seconds=1), pids={"RPM": 820.0}),
        ],
    )
    fleet.publish([message])
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM telemetry") == 2, what="2 samples stored")

    stored = rows(
        db_url,
        "SELECT t.ts, t.pids, t.seq, v.vin FROM telemetry t JOIN vehicles v ON v.id = t.vehicle_id ORDER BY ts",
    )
    assert stored[0].ts == ts
    assert stored[0].vin == vehicle.vin and stored[0].seq == 1207
    assert stored[0].pids == {
        "RPM": 812.5,
        "COOLANT_TEMP": 88,
        "ELM_VOLTAGE": 14.1,
        "O2_B1S2": None,
        "MONITOR_MISFIRE_CYLINDER_1.MISFIRE_COUNT": 0,
    }
    assert stored[1].pids == {"RPM": 820.0}
    device = rows(db_url, "SELECT last_seq, last_seen_at FROM devices WHERE device_id = :d", d=vehicle.device_id)[0]
    assert device.last_seq == 1207 and device.last_seen_at is not None
    assert ingest.metric("pitcall_ingest_samples_stored_total") == 2
    data_lag = ingest.metric("pitcall_ingest_data_lag_seconds")
    assert data_lag is not None and 178 < data_lag < 240  # the newest sample was taken about 3 minutes ago


def test_offset_timestamps_are_stored_as_utc(fleet: FleetUnderTest, ingest_factory: IngestFactory, db_url: str) -> None:
    ingest_factory().start()
    vehicle = fleet.vehicles[1]
    instant = (datetime.now(UTC) - timedelta(minutes=1)).replace(microsecond=0)
    in_shanghai = instant.astimezone(ZoneInfo("Asia/Shanghai")).isoformat()  # "...+08:00"
    payload = {
        "v": 1,
        "device_id": vehicle.device_id,
        "vin": vehicle.vin,
        "seq": 1,
        "samples": [{"ts": in_shanghai, "pids": {"RPM": 900}}],
    }
    publisher = fleet.publisher()
    publisher.publish_raw(str(Topic(vehicle.device_id, MessageKind.TELEMETRY, fleet.prefix)), orjson.dumps(payload))
    publisher.close()
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM telemetry") == 1, what="sample stored")
    assert scalar(db_url, "SELECT ts AT TIME ZONE 'UTC' FROM telemetry") == instant.replace(tzinfo=None)


def test_dtc_and_status_messages_are_stored(fleet: FleetUnderTest, ingest_factory: IngestFactory, db_url: str) -> None:
    ingest_factory().start()
    vehicle = fleet.vehicles[2]
    now = datetime.now(UTC).replace(microsecond=0)
    dtc = DtcMessage(
        v=1,
        device_id=vehicle.device_id,
        vin=vehicle.vin,
        seq=5,
        ts=now - timedelta(seconds=30),
        mil=True,
        stored=["P0301"],
        pending=["P0171"],
        permanent=[],
        freeze_frame=FreezeFrame(dtc="P0301", pids={"RPM": 2100, "COOLANT_TEMP": 91}),
    )
    old_status = StatusMessage(
        v=1,
        device_id=vehicle.device_id,
        online=True,
        ts=now - timedelta(seconds=20),
        agent_version="0.1.0",
        adapter="ELM327 v1.5",
        protocol="ISO 15765-4 (CAN 11/500)",
        buffer_depth=12,
    )
    new_status = old_status.model_copy(update={"online": False, "ts": now - timedelta(seconds=10), "buffer_depth": 0})
    publisher = fleet.publisher()
    publisher.publish([dtc], prefix=fleet.prefix)
    for status in (new_status, old_status):  # out of order: the newer one must win
        publisher.publish_raw(
            str(Topic(vehicle.device_id, MessageKind.STATUS, fleet.prefix)), dump_message(status), retain=True
        )
    publisher.close()
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM dtc_events") == 1, what="dtc stored")
    event = rows(db_url, "SELECT mil, stored, pending, permanent, freeze_frame FROM dtc_events")[0]
    assert event.mil is True and event.stored == ["P0301"] and event.pending == ["P0171"] and event.permanent == []
    assert event.freeze_frame == {"dtc": "P0301", "pids": {"RPM": 2100, "COOLANT_TEMP": 91}}
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM device_status") == 1, what="status stored")
    status = rows(db_url, "SELECT online, buffer_depth, adapter FROM device_status")[0]
    assert status.online is False and status.buffer_depth == 0 and status.adapter == "ELM327 v1.5"


def test_a_fleet_stream_is_stored_exactly_once(
    fleet: FleetUnderTest, ingest_factory: IngestFactory, db_url: str
) -> None:
    ingest_factory().start()
    published = fleet.publish(fleet.messages(300))
    expected = len(fleet.vehicles) * 300
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM telemetry") == expected, what=f"{expected} samples")
    assert published == len(fleet.vehicles) * 30
    per_vehicle = rows(
        db_url,
        "SELECT vehicle_id, count(*) AS n, count(DISTINCT ts) AS distinct_ts FROM telemetry GROUP BY vehicle_id",
    )
    assert sorted((r.n, r.distinct_ts) for r in per_vehicle) == [(300, 300)] * len(fleet.vehicles)


def test_duplicates_are_stored_once(fleet: FleetUnderTest, ingest_factory: IngestFactory, db_url: str) -> None:
    ingest = ingest_factory().start()
    first, second = list(fleet.messages(20))[:2]
    same_samples_new_seq = first.model_copy(update={"seq": first.seq + 1000})
    fleet.publish([first, first])  # the same message twice, most likely in one batch
    wait_until(lambda: (ingest.metric("pitcall_ingest_messages_received_total") or 0) == 2, what="both received")
    fleet.publish([same_samples_new_seq, second, first])  # a later batch: same vehicle and ts, other seq
    wait_until(lambda: (ingest.metric("pitcall_ingest_messages_received_total") or 0) == 5, what="all received")
    wait_until(lambda: (ingest.metric("pitcall_ingest_samples_duplicate_total") or 0) == 30, what="30 duplicates")
    assert scalar(db_url, "SELECT count(*) FROM telemetry") == 20
    assert ingest.metric("pitcall_ingest_samples_stored_total") == 20
    assert scalar(db_url, "SELECT count(DISTINCT seq) FROM telemetry") == 2  # the first copy of each sample wins
