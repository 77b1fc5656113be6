"""`pitcall bench agent`: the edge agent's footprint and replay speed on this machine.

1. live: the real agent reads ELM327-emulator's car at `sample_interval_s` = 1 s for `seconds`, publishing
   to a private Mosquitto; resident memory (VmRSS) and CPU time are read from /proc. The emulator
   answers a query in ~0.15 s, so a cycle takes longer than 1 s: CPU is reported per sample and
   scaled to 1 Hz.
2. replay: a queue holding `backlog` 12-PID samples is replayed by the real agent (no adapter present)
   to the local broker; samples/s from start to an empty queue, with the default rate limit and with
   a high one.
3. disk: queue bytes per sample (pages in use / samples) and file bytes per sample.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge_agent.buffer import DiskBuffer
from pitcall.local_devices import AgentProcess, Elm327Emulator
from pitcall.local_services import Broker, wait_until
from simulators.fleet import make_fleet, readings

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class AgentBench:
    rss_mb: float
    samples_per_s: float
    cpu_ms_per_sample: float
    replay_default_samples_per_s: float
    replay_fast_samples_per_s: float
    backlog: int
    queue_bytes_per_sample: float
    file_bytes_per_sample: float

    @property
    def cpu_percent_at_1hz(self) -> float:
        return self.cpu_ms_per_sample / 10.0  # ms of CPU per second, as % of one core


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _samples(queue: Path) -> int:
    db = sqlite3.connect(queue)
    try:
        return int(db.execute("SELECT count(*) FROM samples").fetchone()[0])
    finally:
        db.close()


def live(broker: Broker, root: Path, seconds: float) -> tuple[float, float, float]:
    """Return (RSS MB, samples/s, CPU ms per sample) of the agent reading the emulator."""
    emulator = Elm327Emulator()
    emulator.start()
    vehicle = make_fleet(1, seed=5, prefix="bench")[0]
    agent = AgentProcess(
        device_id=vehicle.device_id,
        vin=vehicle.vin,
        adapter_port=emulator.port,
        mqtt_port=broker.port,
        prefix="bench/pitcall/v1",
        buffer_path=root / "live.db",
    )
    try:
        agent.start()
        assert agent.process is not None
        pid = agent.process.pid
        wait_until(lambda: "car connected" in agent.log(), timeout_s=60, what="the agent connected to the car")
        seq_before, cpu_before, started = _seq(agent.buffer_path), _cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        cpu = _cpu_seconds(pid) - cpu_before
        messages = _seq(agent.buffer_path) - seq_before  # one live message per cycle while connected
        rss = _rss_mb(pid)
        elapsed = time.monotonic() - started
    finally:
        if agent.process and agent.process.poll() is None:
            agent.terminate()
        emulator.destroy()
    return rss, messages / elapsed, cpu * 1000 / max(messages, 1)


def _seq(queue: Path) -> int:
    db = sqlite3.connect(queue)
    try:
        row = db.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()
        return int(row[0]) if row else 0
    finally:
        db.close()


def fill(queue: Path, count: int) -> None:
    import random

    vehicle = make_fleet(1, seed=5, prefix="bench")[0]
    buffer = DiskBuffer(queue, synchronous="OFF")
    rng = random.Random(5)
    start = datetime.now(UTC) - timedelta(seconds=count + 60)
    for i in range(count):
        buffer.append_sample(start + timedelta(seconds=i), readings(vehicle, float(i), rng))
    buffer.close()


def replay(broker: Broker, root: Path, backlog: int, *, rate: float | None) -> float:
    """Return samples/s for the agent to empty a queue of `backlog` samples into the broker."""
    queue = root / f"replay-{rate}.db"
    fill(queue, backlog)
    vehicle = make_fleet(1, seed=5, prefix="bench")[0]
    extra = {"AGENT_BACKLOG_MESSAGES_PER_S": str(rate)} if rate else {}
    agent = AgentProcess(
        device_id=vehicle.device_id,
        vin=vehicle.vin,
        adapter_port=str(root / "no-adapter"),
        mqtt_port=broker.port,
        prefix="bench/pitcall/v1",
        buffer_path=queue,
        extra_env=extra,
    )
    started = time.monotonic()
    agent.start()
    try:
        wait_until(lambda: _samples(queue) == 0, timeout_s=600, poll_s=0.2, what="the backlog replayed")
        return backlog / (time.monotonic() - started)
    finally:
        agent.terminate()


def run(*, seconds: float = 60.0, backlog: int = 100_000) -> AgentBench:
    broker = Broker()
    broker.start()
    root = Path(tempfile.mkdtemp(prefix="pitcall-bench-agent-"))
    try:
        rss, rate, cpu_ms = live(broker, root, seconds)
        queue = root / "size.db"
        fill(queue, backlog)
        buffer = DiskBuffer(queue)
        queue_bytes = buffer.used_bytes() / backlog
        buffer.close()
        file_bytes = queue.stat().st_size / backlog
        default = replay(broker, root, backlog, rate=None)
        fast = replay(broker, root, backlog, rate=1000.0)
    finally:
        broker.destroy()
    return AgentBench(
        rss_mb=rss,
        samples_per_s=rate,
        cpu_ms_per_sample=cpu_ms,
        replay_default_samples_per_s=default,
        replay_fast_samples_per_s=fast,
        backlog=backlog,
        queue_bytes_per_sample=queue_bytes,
        file_bytes_per_sample=file_bytes,
    )
