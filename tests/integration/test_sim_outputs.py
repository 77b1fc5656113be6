"""A simulated fleet's history through the realistic delivery, into a real broker and ingest, and to JSONL."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from pitcall.local_services import Broker, IngestProcess, wait_until
from simulators.cli import CarRegistration, provision_fleet
from simulators.climate import CHINA
from simulators.delivery import Delivered, DeliveryPlan, Flaw
from simulators.history import Cadence
from simulators.outputs import HistoryStats, JsonlSink, MqttSink, read_jsonl, run_history, run_live
from simulators.scenario import FleetPlan, build_fleet
from tests.helpers import IngestFactory, scalar
from wire import MessageKind, Topic
from wire.v1 import TelemetryMessage

# Two months back: older than ingest's default window of 30 days, so ingest runs with a wider one.
PLAN = FleetPlan(seed=5, vehicles=4, start=datetime.now(CHINA).date() - timedelta(days=60), days=3)
ROUGH = DeliveryPlan(offline_probability=0.5, duplicate_rate=0.03, malformed_rate=0.02)


class RecordingSink:
    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.items: list[Delivered] = []
        self.sent_at: list[datetime] = []
        self.closed = False
        self._clock = clock

    def send(self, item: Delivered) -> None:
        self.items.append(item)
        if self._clock is not None:
            self.sent_at.append(self._clock())

    def close(self) -> None:
        self.closed = True


@pytest.fixture(scope="module")
def delivered() -> tuple[list[Delivered], HistoryStats]:
    sink = RecordingSink()
    stats = run_history(PLAN, Cadence(), sink, delivery=ROUGH, workers=1, progress=False)
    assert sink.closed
    return sink.items, stats


def test_history_lands_in_timescaledb_exactly_once(
    db_url: str,
    broker: Broker,
    prefix: str,
    ingest_factory: IngestFactory,
    delivered: tuple[list[Delivered], HistoryStats],
) -> None:
    items, expected = delivered
    assert expected.duplicates and expected.malformed and expected.backlog  # the test covers every flaw
    provision_fleet(db_url, [CarRegistration.of(car) for car in build_fleet(PLAN)])
    ingest = ingest_factory(extra_env={"INGEST_MAX_SAMPLE_AGE": "P90D"}).start()
    sink = MqttSink.connect(host="127.0.0.1", port=broker.port, prefix=prefix, client_id=f"hist-{os.getpid()}")
    stats = run_history(PLAN, Cadence(), sink, delivery=ROUGH, workers=2, progress=False)
    assert (stats.messages, stats.samples, stats.published) == (expected.messages, expected.samples, len(items))
    wait_until(lambda: ingest.metric("pitcall_ingest_messages_received_total") == stats.published, what="all received")
    wait_until(lambda: _committed(ingest) >= _good_samples(items), what="all samples committed")
    assert scalar(db_url, "SELECT count(*) FROM telemetry") == stats.samples
    dtc_messages = sum(i.kind is MessageKind.DTC and i.flaw in (Flaw.NONE, Flaw.BACKLOG) for i in items)
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM dead_letters") == stats.malformed, what="dead letters")
    assert scalar(db_url, "SELECT count(*) FROM dtc_events") == dtc_messages
    reasons = scalar(db_url, "SELECT array_agg(DISTINCT reason) FROM dead_letters")
    assert set(reasons) <= {"not_json", "schema"}
    assert (ingest.metric("pitcall_ingest_samples_duplicate_total") or 0) > 0


def _committed(ingest: IngestProcess) -> float:
    """Samples ingest has committed, as new rows or as already stored ones."""
    stored = ingest.metric("pitcall_ingest_samples_stored_total") or 0.0
    return stored + (ingest.metric("pitcall_ingest_samples_duplicate_total") or 0.0)


def _good_samples(items: list[Delivered]) -> int:
    telemetry = [i for i in items if i.kind is MessageKind.TELEMETRY and i.flaw is not Flaw.MALFORMED]
    return sum(len(orjson.loads(i.payload)["samples"]) for i in telemetry)


def test_jsonl_round_trip_is_the_delivered_stream(
    tmp_path: Path, delivered: tuple[list[Delivered], HistoryStats]
) -> None:
    items, _ = delivered
    path = tmp_path / "history.jsonl"
    run_history(PLAN, Cadence(), JsonlSink(path, prefix="x/v1"), delivery=ROUGH, workers=2, progress=False)
    expected = [(str(Topic(i.device_id, i.kind, "x/v1")), i.payload) for i in items]
    assert list(read_jsonl(path)) == expected


def test_live_mode_publishes_now_at_1_hz_and_stops_by_itself() -> None:
    clock = FakeClock(datetime(2026, 11, 27, 8, 0, 0, 500_000, tzinfo=UTC))
    sink = RecordingSink(clock.now)
    plan = FleetPlan(seed=5, vehicles=2, start=date(2026, 11, 27), days=30)
    stats = run_live(plan, sink, minutes=1, clock=clock.now, sleep=clock.sleep)
    assert sink.closed and stats.samples == 2 * 60 and stats.messages == 2 * 6
    messages = [TelemetryMessage.model_validate_json(i.payload) for i in sink.items]
    stamps = sorted(s.ts for m in messages if m.device_id == messages[0].device_id for s in m.samples)
    assert stamps == [datetime(2026, 11, 27, 8, tzinfo=UTC) + timedelta(seconds=n) for n in range(60)]
    assert all(m.samples[-1].ts <= sent for m, sent in zip(messages, sink.sent_at, strict=True))
    assert clock.slept_s >= 58


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.current = start
        self.slept_s = 0.0

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        self.slept_s += seconds
