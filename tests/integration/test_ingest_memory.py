"""Ingest's memory stays bounded while it drains a big backlog, whatever the broker sends.

Issue 18, finding 3: Mosquitto 2.0.11, delivering a session's backlog, sends far more than the
`receive_maximum` ingest announces (72,000 unacknowledged messages against 2,000 measured), and ingest
held them all (415 MB peak for 100,000 messages of 2.7 KB; 3.1 GB for 300,000 of 13 KB). Now the inbox
holds at most INGEST_MAX_HELD_MESSAGES and blocks the MQTT thread beyond that.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from pitcall.local_services import wait_until
from tests.helpers import FleetUnderTest, IngestFactory, scalar
from wire.pids import FAST_SET

pytestmark = pytest.mark.slow
BACKLOG = 100_000
SAMPLES_PER_MESSAGE = 10
PEAK_RSS_BOUND_MB = 300


def _peak_rss_mb(pid: int) -> float:
    """The process's high-water mark of resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_draining_a_100k_message_backlog_stays_under_300_mb(
    fleet: FleetUnderTest, ingest_factory: IngestFactory, db_url: str
) -> None:
    ingest = ingest_factory().start()
    assert ingest.terminate() == 0  # the session stays: the backlog queues in it
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=5)
    pids = dict.fromkeys(FAST_SET, 1.5)
    publisher = fleet.publisher()
    for index in range(BACKLOG):
        vehicle, seq = fleet.vehicles[index % len(fleet.vehicles)], index // len(fleet.vehicles)
        first = start + timedelta(seconds=seq * SAMPLES_PER_MESSAGE)
        body = {"v": 1, "device_id": vehicle.device_id, "vin": vehicle.vin, "seq": seq,
                "samples": [{"ts": (first + timedelta(seconds=i)).isoformat(), "pids": pids}
                            for i in range(SAMPLES_PER_MESSAGE)]}  # fmt: skip
        publisher.publish_raw(f"{fleet.prefix}/dev/{vehicle.device_id}/telemetry", orjson.dumps(body))
    publisher.close()
    draining = ingest_factory(client_id=ingest.client_id).start()
    assert draining.process is not None
    expected = BACKLOG * SAMPLES_PER_MESSAGE
    wait_until(lambda: (draining.metric("pitcall_ingest_samples_stored_total") or 0) >= expected, timeout_s=240,
               poll_s=0.5, what=f"{expected} samples stored")  # fmt: skip
    peak = _peak_rss_mb(draining.process.pid)
    held = draining.metric("pitcall_ingest_queue_depth")
    print(f"\ndrained {BACKLOG:,} messages: peak RSS {peak:.0f} MB (bound {PEAK_RSS_BOUND_MB} MB)")
    assert scalar(db_url, "SELECT count(*) FROM telemetry") == expected
    assert peak < PEAK_RSS_BOUND_MB, f"peak RSS {peak:.0f} MB"
    assert held is not None and held <= 2000
