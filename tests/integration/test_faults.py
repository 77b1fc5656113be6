"""Nothing lost, nothing twice: ingest killed, stopped, or its database restarted mid-stream; two
workers on the shared subscription."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from pitcall.local_services import Broker, PostgresCluster, wait_until
from store import migrate
from store.db import sqlalchemy_url
from tests.helpers import FleetUnderTest, IngestFactory, assert_nothing_lost, provision, scalar

pytestmark = [pytest.mark.slow, pytest.mark.campaign]
SAMPLES = 2000  # per vehicle: 200 messages of 10 samples each, paced over about 4 s


def _assert_exactly_once(db_url: str, fleet: FleetUnderTest, samples: int, *, fault: str) -> None:
    expected = len(fleet.vehicles) * samples
    wait_until(
        lambda: scalar(db_url, "SELECT count(*) FROM telemetry") >= expected,
        timeout_s=120,
        what=f"{expected} samples",
    )
    assert_nothing_lost(fault, db_url, sent=expected)


def _publish_in_background(fleet: FleetUnderTest, samples: int, *, rate: float = 200.0) -> threading.Thread:
    """Publish the fleet's messages interleaved by time, at `rate` messages per second."""
    per_vehicle = list(fleet.messages(samples))
    count = len(fleet.vehicles)
    by_vehicle = [
        per_vehicle[i * len(per_vehicle) // count : (i + 1) * len(per_vehicle) // count] for i in range(count)
    ]
    interleaved = [m for group in zip(*by_vehicle, strict=True) for m in group]

    def run() -> None:
        publisher = fleet.publisher()
        for index, message in enumerate(interleaved):
            publisher.publish([message], prefix=fleet.prefix)
            if index % 20 == 19:
                time.sleep(20 / rate)
        publisher.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_sigkill_mid_stream_then_restart_stores_every_sample_once(
    fleet: FleetUnderTest, ingest_factory: IngestFactory, db_url: str
) -> None:
    ingest = ingest_factory(extra_env={"INGEST_BATCH_MAX_MESSAGES": "20"}).start()
    publisher = _publish_in_background(fleet, SAMPLES)
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM telemetry") > 1000, what="stream under way")
    ingest.kill()
    stored_at_kill = scalar(db_url, "SELECT count(*) FROM telemetry")
    publisher.join()
    assert stored_at_kill < len(fleet.vehicles) * SAMPLES, "the kill came too late to test anything"
    ingest_factory(client_id=ingest.client_id).start()
    _assert_exactly_once(db_url, fleet, SAMPLES, fault="ingest kill -9 mid-stream, restarted")


def test_sigterm_drains_and_acks_then_restart_stores_every_sample_once(
    fleet: FleetUnderTest, ingest_factory: IngestFactory, db_url: str
) -> None:
    ingest = ingest_factory(extra_env={"INGEST_BATCH_MAX_MESSAGES": "20"}).start()
    publisher = _publish_in_background(fleet, SAMPLES)
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM telemetry") > 1000, what="stream under way")
    assert ingest.terminate() == 0
    publisher.join()
    restarted = ingest_factory(client_id=ingest.client_id).start()
    _assert_exactly_once(db_url, fleet, SAMPLES, fault="ingest SIGTERM mid-stream, restarted")
    # a clean stop acknowledged what it stored: nothing stored before the stop comes back as a duplicate
    assert restarted.metric("pitcall_ingest_samples_duplicate_total") == 0


@pytest.fixture
def private_pg(template_db: str) -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    cluster.init()
    cluster.start()
    engine = create_engine(sqlalchemy_url(cluster.url()), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("CREATE DATABASE pitcall"))
    engine.dispose()
    migrate.upgrade(cluster.url("pitcall"))
    yield cluster
    cluster.destroy()


def test_database_restart_mid_stream_loses_nothing(
    private_pg: PostgresCluster, broker: Broker, prefix: str, ingest_factory: IngestFactory
) -> None:
    db_url = private_pg.url("pitcall")
    fleet = FleetUnderTest(provision(db_url, 4, seed=11), prefix, broker)
    ingest = ingest_factory(db_url=db_url, extra_env={"INGEST_BATCH_MAX_MESSAGES": "20"}).start()
    publisher = _publish_in_background(fleet, SAMPLES)
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM telemetry") > 1000, what="stream under way")
    private_pg.stop("immediate")
    time.sleep(3)  # the database is away while messages keep arriving
    private_pg.start()
    publisher.join()
    try:
        _assert_exactly_once(db_url, fleet, SAMPLES, fault="database restart (immediate stop) mid-stream")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\ningest log:\n{ingest.log()}") from exc
    assert (ingest.metric("pitcall_ingest_store_retries_total") or 0) >= 1
    assert ingest.process is not None and ingest.process.poll() is None


def test_two_workers_on_the_shared_subscription_store_each_message_once(
    fleet: FleetUnderTest, ingest_factory: IngestFactory, db_url: str
) -> None:
    first = ingest_factory().start()
    second = ingest_factory().start()
    fleet.publish(fleet.messages(SAMPLES))
    _assert_exactly_once(db_url, fleet, SAMPLES, fault="two ingest workers on the share group")
    received = [w.metric("pitcall_ingest_messages_received_total") or 0 for w in (first, second)]
    assert sum(received) == len(fleet.vehicles) * SAMPLES / 10
    assert all(r > 0 for r in received), f"the load was not split: {received}"


def test_two_workers_one_killed_mid_stream_and_restarted(
    fleet: FleetUnderTest, ingest_factory: IngestFactory, db_url: str
) -> None:
    survivor = ingest_factory(extra_env={"INGEST_BATCH_MAX_MESSAGES": "20"}).start()
    victim = ingest_factory(extra_env={"INGEST_BATCH_MAX_MESSAGES": "20"}).start()
    publisher = _publish_in_background(fleet, SAMPLES)
    wait_until(lambda: (victim.metric("pitcall_ingest_samples_stored_total") or 0) > 200, what="both under way")
    victim.kill()
    publisher.join()
    wait_until(lambda: (survivor.metric("pitcall_ingest_samples_stored_total") or 0) > 1000, what="survivor working")
    ingest_factory(client_id=victim.client_id).start()  # its session kept its share: it must come back
    _assert_exactly_once(db_url, fleet, SAMPLES, fault="two workers, one killed with -9 and restarted")
