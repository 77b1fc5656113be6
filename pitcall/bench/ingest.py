"""`pitcall bench ingest`: bare MQTT subscriber vs raw COPY vs pitcall end to end, in one run.

Everything runs on this machine: a private Mosquitto (so its queue limits are known), the given
PostgreSQL server with TimescaleDB (a fresh `pitcall_bench` database), and `pitcall ingest` as a
real process. Messages carry 10 samples of 12 PIDs, like a dongle sending every 10 s at 1 Hz.

1. bare: a paho QoS 1 subscriber (MQTT 5, persistent session, same receive maximum as ingest)
   drains N queued messages; no processing. The broker's delivery limit for one client.
2. copy: asyncpg binary COPY of the same samples into the telemetry hypertable, 5,000 rows per COPY.
3. end to end: N messages queued for ingest's session, then ingest starts and drains them into
   TimescaleDB; measured from its subscription to the last committed sample. Peak RSS: the ingest
   process's high-water mark (VmHWM) after the drain (the largest of the workers').
4. latency: while ingest runs, messages published at a steady rate; publish → committed, found by
   polling the table every 10 ms (so figures carry up to ~10 ms of polling error).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from pitcall.local_services import Broker, IngestProcess, wait_until
from simulators.cli import provision_fleet
from simulators.fleet import make_fleet, telemetry
from simulators.publish import Publisher, topic_for
from store import migrate
from store.db import asyncpg_url
from store.provision_db import ensure_database
from wire import dump_message
from wire.v1 import TelemetryMessage

RECEIVE_MAXIMUM = 2000


@dataclass(frozen=True)
class IngestBench:
    messages: int
    workers: int
    samples_per_message: int
    pids_per_sample: int
    bare_msgs_per_s: float
    copy_rows_per_s: float
    e2e_msgs_per_s: float
    latency_rate_msgs_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    lost: int
    duplicated: int
    peak_rss_mb: float

    @property
    def e2e_readings_per_s(self) -> float:
        return self.e2e_msgs_per_s * self.samples_per_message * self.pids_per_sample

    @property
    def copy_readings_per_s(self) -> float:
        return self.copy_rows_per_s * self.pids_per_sample

    @property
    def share_of_bare(self) -> float:
        return self.e2e_msgs_per_s / self.bare_msgs_per_s


def _messages(devices: int, count: int, *, start: datetime, seed: int, seq_start: int = 0) -> list[TelemetryMessage]:
    """Return `count` messages of the bench fleet, interleaved across devices as a live fleet sends them."""
    fleet = make_fleet(devices, seed=seed, prefix="bench")
    per_device = count // devices
    streams = [list(telemetry(v, start=start, samples=per_device * 10, seed=seed, seq_start=seq_start)) for v in fleet]
    return [message for group in zip(*streams, strict=True) for message in group]


def _connect_properties() -> Properties:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    properties.ReceiveMaximum = RECEIVE_MAXIMUM
    return properties


def bare_subscriber_rate(broker: Broker, payloads: list[tuple[str, bytes]], prefix: str) -> float:
    """Queue the messages for a persistent session, then time how fast a bare client drains them."""
    received = 0
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        nonlocal received
        received += 1
        if received == len(payloads):
            done.set()

    def make() -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=MQTTProtocolVersion.MQTTv5)
        client.on_message = on_message
        client.on_subscribe = lambda *_: subscribed.set()
        client.connect("127.0.0.1", broker.port, clean_start=False, properties=_connect_properties())
        return client

    client = make()
    client.loop_start()
    client.subscribe(f"{prefix}/dev/+/telemetry", options=SubscribeOptions(qos=1))
    subscribed.wait(10)
    client.disconnect()
    client.loop_stop()
    _publish(broker, payloads)
    client = make()
    started = time.perf_counter()
    client.loop_start()
    if not done.wait(600):
        raise RuntimeError(f"bare subscriber got {received} of {len(payloads)}")
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return len(payloads) / elapsed


def _publish(broker: Broker, payloads: list[tuple[str, bytes]]) -> None:
    publisher = Publisher(host="127.0.0.1", port=broker.port, client_id=f"bench-pub-{os.getpid()}", max_inflight=2000)
    for topic, payload in payloads:
        publisher.publish_raw(topic, payload)
    publisher.close()


async def copy_rate(database_url: str, messages: list[TelemetryMessage], vehicle_ids: dict[str, int]) -> float:
    """Time binary COPY of the messages' samples into the telemetry hypertable."""
    records = [
        (s.ts, vehicle_ids[m.device_id], m.device_id, m.seq, orjson.dumps(s.pids).decode())
        for m in messages
        for s in m.samples
    ]
    conn = await asyncpg.connect(asyncpg_url(database_url))
    try:
        started = time.perf_counter()
        for lo in range(0, len(records), 5000):
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "telemetry",
                    records=records[lo : lo + 5000],
                    columns=("ts", "vehicle_id", "device_id", "seq", "pids"),
                )
        elapsed = time.perf_counter() - started
        await conn.execute("TRUNCATE telemetry")
    finally:
        await conn.close()
    return len(records) / elapsed


def end_to_end_rate(
    workers: list[IngestProcess], broker: Broker, payloads: list[tuple[str, bytes]], samples: int
) -> float:
    """Queue the messages for the workers' persistent sessions, restart them, time the drain to committed rows."""
    for worker in workers:
        worker.start()
    for worker in workers:
        assert worker.terminate() == 0
    _publish(broker, payloads)
    for worker in workers:
        worker.start(wait=False)

    def subscribed() -> bool:
        return all(w.metric("pitcall_ingest_broker_connected") == 1.0 for w in workers)

    def committed() -> bool:
        return sum(w.metric("pitcall_ingest_samples_stored_total") or 0 for w in workers) >= samples

    wait_until(subscribed, timeout_s=60, poll_s=0.005, what="ingest subscribed")
    started = time.perf_counter()
    wait_until(committed, timeout_s=900, poll_s=0.02, what=f"{samples} samples committed")
    return len(payloads) / (time.perf_counter() - started)


def peak_rss_mb(workers: list[IngestProcess]) -> float:
    """The largest high-water mark of resident memory (VmHWM) among the running workers, in MB."""
    peaks = []
    for worker in workers:
        assert worker.process is not None
        with open(f"/proc/{worker.process.pid}/status") as status:
            peaks += [int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:")]
    return max(peaks)


async def publish_to_commit_latencies(
    database_url: str, broker: Broker, messages: list[TelemetryMessage], prefix: str, rate: float
) -> list[float]:
    """Publish at `rate` messages/s; return publish → commit seconds per message (10 ms polling)."""
    published: dict[tuple[str, int], float] = {}
    seen: dict[tuple[str, int], float] = {}
    publisher = Publisher(host="127.0.0.1", port=broker.port, client_id=f"bench-lat-{os.getpid()}")

    def publish_paced() -> None:
        started = time.perf_counter()
        for index, message in enumerate(messages):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            published[(message.device_id, message.seq)] = time.perf_counter()
            publisher.publish_raw(topic_for(message, prefix=prefix), dump_message(message))
        publisher.flush()

    thread = threading.Thread(target=publish_paced)
    conn = await asyncpg.connect(asyncpg_url(database_url))
    since = min(s.ts for m in messages for s in m.samples)
    thread.start()
    deadline = time.perf_counter() + len(messages) / rate + 60
    try:
        while len(seen) < len(messages) and time.perf_counter() < deadline:
            found = await conn.fetch("SELECT DISTINCT device_id, seq FROM telemetry WHERE ts >= $1", since)
            now = time.perf_counter()
            for row in found:
                seen.setdefault((row["device_id"], row["seq"]), now)
            await asyncio.sleep(0.01)
    finally:
        thread.join()
        publisher.close()
        await conn.close()
    return [seen[key] - published[key] for key in seen if key in published]


def run(
    database_url: str,
    *,
    messages: int = 20_000,
    devices: int = 100,
    latency_rate: float = 500.0,
    workers: int = 1,
    seed: int = 7,
    ingest_env: dict[str, str] | None = None,
) -> IngestBench:
    """Run every phase and return the figures."""
    ensure_database(database_url)
    _reset(database_url)
    migrate.upgrade(database_url)
    fleet = make_fleet(devices, seed=seed, prefix="bench")
    provision_fleet(database_url, fleet)
    vehicle_ids = asyncio.run(_vehicle_ids(database_url))
    day_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    batch = _messages(devices, messages, start=day_ago, seed=seed)
    broker = Broker()
    broker.start()
    ingest = [
        IngestProcess(
            db_url=database_url,
            mqtt_port=broker.port,
            log_dir=broker.root,
            prefix="bench-e2e/pitcall/v1",
            client_id=f"bench-ingest-{index}",
            extra_env={"INGEST_RECEIVE_MAXIMUM": str(RECEIVE_MAXIMUM), **(ingest_env or {})},
        )
        for index in range(workers)
    ]
    try:
        _say(f"bare subscriber: {len(batch):,} messages")
        bare = bare_subscriber_rate(
            broker,
            [(topic_for(m, prefix="bench-bare/pitcall/v1"), dump_message(m)) for m in batch],
            "bench-bare/pitcall/v1",
        )
        _say(f"bare: {bare:,.0f} msgs/s; raw COPY")
        copy = asyncio.run(copy_rate(database_url, batch, vehicle_ids))
        _say(f"COPY: {copy:,.0f} rows/s; pitcall end to end")
        prefix = ingest[0].prefix
        e2e_payloads = [(topic_for(m, prefix=prefix), dump_message(m)) for m in batch]
        e2e = end_to_end_rate(ingest, broker, e2e_payloads, samples=len(batch) * 10)
        peak = peak_rss_mb(ingest)
        lost, duplicated = asyncio.run(_losses(database_url, expected=len(batch) * 10))
        _say(f"end to end: {e2e:,.0f} msgs/s, lost {lost}, duplicated {duplicated}")
        _say(f"latency at {latency_rate:,.0f} msgs/s")
        live_start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=4)  # within the accepted window
        live = _messages(devices, int(latency_rate * 10), start=live_start, seed=seed, seq_start=1_000_000)
        latencies = asyncio.run(publish_to_commit_latencies(database_url, broker, live, prefix, latency_rate))
    finally:
        for worker in ingest:
            if worker.process and worker.process.poll() is None:
                worker.terminate()
        broker.destroy()
    cuts = statistics.quantiles(latencies, n=100)
    return IngestBench(
        messages=len(batch),
        workers=workers,
        samples_per_message=10,
        pids_per_sample=12,
        bare_msgs_per_s=bare,
        copy_rows_per_s=copy,
        e2e_msgs_per_s=e2e,
        latency_rate_msgs_per_s=latency_rate,
        latency_p50_ms=cuts[49] * 1000,
        latency_p99_ms=cuts[98] * 1000,
        lost=lost + (len(live) - len(latencies)),
        duplicated=duplicated,
        peak_rss_mb=peak,
    )


def _say(text: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def _reset(database_url: str) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(asyncpg_url(database_url))
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()

    asyncio.run(drop())


async def _vehicle_ids(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(asyncpg_url(database_url))
    try:
        return {r["device_id"]: r["vehicle_id"] for r in await conn.fetch("SELECT device_id, vehicle_id FROM devices")}
    finally:
        await conn.close()


async def _losses(database_url: str, *, expected: int) -> tuple[int, int]:
    conn = await asyncpg.connect(asyncpg_url(database_url))
    try:
        stored = await conn.fetchval("SELECT count(*) FROM telemetry")
        distinct = await conn.fetchval("SELECT count(*) FROM (SELECT DISTINCT vehicle_id, ts FROM telemetry) d")
    finally:
        await conn.close()
    return max(0, expected - distinct), stored - distinct
