"""Property: whatever bytes or JSON arrive on a device topic, ingest keeps running, dead-letters them,
and stores the valid traffic interleaved with them."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pitcall.local_services import wait_until
from tests.helpers import FleetUnderTest, IngestFactory, scalar
from wire import MessageKind, Topic


def _dumps(value: object) -> bytes:
    return json.dumps(value).encode()  # stdlib: big integers too


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
telemetry_shaped = st.fixed_dictionaries(
    {
        "v": json_values,
        "device_id": json_values,
        "vin": json_values,
        "seq": json_values,
        "samples": st.lists(st.fixed_dictionaries({"ts": json_values, "pids": json_values}), max_size=3),
    }
)
payloads = st.binary(max_size=2048) | json_values.map(_dumps) | telemetry_shaped.map(_dumps)
kinds = st.sampled_from([MessageKind.TELEMETRY, MessageKind.DTC, MessageKind.STATUS])


def test_arbitrary_payloads_are_dead_lettered_and_valid_traffic_is_stored(
    fleet: FleetUnderTest, ingest_factory: IngestFactory, db_url: str
) -> None:
    # every garbage message must become a row here: the per-device dead-letter limit (test_dead_letters.py) is off
    ingest = ingest_factory(extra_env={"INGEST_DEAD_LETTERS_PER_DEVICE_PER_MIN": "1000000"}).start()
    publisher = fleet.publisher()
    valid_stream = iter(list(fleet.messages(2000, per_message=2)))
    published = {"garbage": 0, "samples": 0}

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(garbage=st.lists(st.tuples(kinds, payloads), min_size=1, max_size=4), device=st.integers(0, 3))
    def publish_garbage_between_valid(garbage: list[tuple[MessageKind, bytes]], device: int) -> None:
        for kind, payload in garbage:
            publisher.publish_raw(str(Topic(fleet.vehicles[device].device_id, kind, fleet.prefix)), payload)
            published["garbage"] += 1
        valid = next(valid_stream)
        publisher.publish([valid], prefix=fleet.prefix)
        published["samples"] += len(valid.samples)

    publish_garbage_between_valid()
    publisher.close()
    wait_until(
        lambda: scalar(db_url, "SELECT count(*) FROM dead_letters") >= published["garbage"],
        timeout_s=60,
        what=f"{published['garbage']} dead letters",
    )
    wait_until(
        lambda: scalar(db_url, "SELECT count(*) FROM telemetry") >= published["samples"],
        timeout_s=60,
        what=f"{published['samples']} valid samples",
    )
    assert scalar(db_url, "SELECT count(*) FROM dead_letters") == published["garbage"]
    assert scalar(db_url, "SELECT count(*) FROM telemetry") == published["samples"]
    assert ingest.process is not None and ingest.process.poll() is None
    assert published["garbage"] >= 200
    assert fleet.start - timedelta(days=1) < scalar(db_url, "SELECT min(ts) FROM telemetry")
