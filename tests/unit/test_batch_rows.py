"""Batching by size and age with a moved clock; the rows a batch writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.batch import Batcher
from ingest.rows import Delivery, build_write_set, hour_bucket
from ingest.validate import Accepted, DeviceRecord, Rejected
from wire.v1 import Sample, StatusMessage, TelemetryMessage

T0 = datetime(2026, 11, 26, 8, 59, 59, tzinfo=UTC)
DEVICE = DeviceRecord("d1", 7, "LSVAU2180N2183294", active=True)


def test_batch_flushes_on_size() -> None:
    batcher: Batcher[int] = Batcher(max_items=3, max_wait_s=10)
    for item in range(3):
        assert not batcher.ready(now=0)
        batcher.add(item, now=0)
    assert batcher.ready(now=0)
    assert batcher.take() == [0, 1, 2]
    assert len(batcher) == 0 and batcher.deadline() is None


def test_batch_flushes_on_age_of_its_first_item() -> None:
    batcher: Batcher[int] = Batcher(max_items=100, max_wait_s=0.2)
    batcher.add(1, now=5.0)
    batcher.add(2, now=5.15)
    assert batcher.deadline() == 5.2
    assert not batcher.ready(now=5.19)
    assert batcher.ready(now=5.2)


def _telemetry(seq: int, *stamps: datetime) -> TelemetryMessage:
    return TelemetryMessage(
        v=1,
        device_id="d1",
        vin=DEVICE.vin,
        seq=seq,
        samples=[Sample(ts=ts, pids={"RPM": 800.0, "SPEED": None}) for ts in stamps],
    )


def _delivery(payload: bytes = b"x") -> Delivery:
    return Delivery(topic="pitcall/v1/dev/d1/telemetry", payload=payload, received_at=T0)


def test_rows_of_a_batch() -> None:
    status_old = StatusMessage(v=1, device_id="d1", online=True, ts=T0)
    status_new = StatusMessage(v=1, device_id="d1", online=False, ts=T0 + timedelta(seconds=1))
    rows = build_write_set(
        [
            (_delivery(), Accepted(_telemetry(5, T0, T0 + timedelta(seconds=1)), DEVICE)),
            (_delivery(), Accepted(status_new, DEVICE)),
            (_delivery(), Accepted(_telemetry(4, T0 - timedelta(seconds=1)), DEVICE)),
            (_delivery(), Accepted(status_old, DEVICE)),
            (_delivery(b"y" * 70_000), Rejected("schema", "bad", "d1")),
        ]
    )
    assert [(r[0], r[1], r[3]) for r in rows.telemetry] == [
        (T0, 7, 5),
        (T0 + timedelta(seconds=1), 7, 5),
        (T0 - timedelta(seconds=1), 7, 4),
    ]
    assert rows.telemetry[0][4] == '{"RPM":800.0,"SPEED":null}'
    assert rows.sorted_invalidations() == [
        (7, datetime(2026, 11, 26, 8, tzinfo=UTC)),
        (7, datetime(2026, 11, 26, 9, tzinfo=UTC)),
    ]
    assert rows.sorted_progress() == [("d1", 5, T0)]
    assert rows.statuses["d1"][1] is False  # the newest status wins, whatever the arrival order
    assert len(rows.dead_letters) == 1 and len(rows.dead_letters[0][5]) == 64 * 1024
    assert rows.dead_letters[0][6] == 70_000
    assert rows.rejected_reasons == ["schema"]


def test_hour_bucket_is_utc() -> None:
    shanghai = datetime.fromisoformat("2026-11-26T17:30:00+08:00")
    assert hour_bucket(shanghai) == datetime(2026, 11, 26, 9, tzinfo=UTC)
