"""The agent's disk queue: FIFO, acknowledge-to-delete, persistent seq, bounded with a drop policy,
durable through kill -9."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_agent.buffer import DiskBuffer, Priority

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
FAST = {
    "RPM": 812.5,
    "SPEED": 42.0,
    "ENGINE_LOAD": 31.4,
    "COOLANT_TEMP": 88.0,
    "SHORT_FUEL_TRIM_1": -1.6,
    "LONG_FUEL_TRIM_1": 2.3,
    "MAF": 4.56,
    "INTAKE_TEMP": 27.0,
    "THROTTLE_POS": 15.3,
    "CONTROL_MODULE_VOLTAGE": 14.1,
    "O2_B1S1": 0.45,
    "O2_B1S2": None,
}


def test_samples_come_back_oldest_first_with_gaps_until_acknowledged(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path / "q.db")
    for i in range(5):
        buffer.append_sample(T0 + timedelta(seconds=i), {**FAST, "RPM": 800.0 + i})
    oldest = buffer.oldest_samples(3)
    assert [s.ts for s in oldest] == [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)]
    assert oldest[0].readings == {**FAST, "RPM": 800.0}
    assert oldest[0].readings["O2_B1S2"] is None
    in_flight = [s.id for s in oldest]
    assert [s.readings["RPM"] for s in buffer.samples_after(in_flight[-1], limit=3)] == [803.0, 804.0]
    assert [s.readings["RPM"] for s in buffer.samples_after(0, limit=9, upto=in_flight[1])] == [800.0, 801.0]
    buffer.acknowledge(samples=in_flight)
    assert buffer.depth() == 2
    assert buffer.oldest_samples(10)[0].ts == T0 + timedelta(seconds=3)


def test_sample_ids_are_never_reused_after_the_queue_empties(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path / "q.db")
    for i in range(3):
        buffer.append_sample(T0 + timedelta(seconds=i), FAST)
    last = buffer.last_sample_id()
    buffer.acknowledge(samples=[s.id for s in buffer.oldest_samples(10)])
    assert buffer.depth() == 0 and buffer.last_sample_id() == last
    buffer.append_sample(T0 + timedelta(seconds=9), FAST)
    assert buffer.oldest_samples(1)[0].id == last + 1


def test_seq_is_strictly_increasing_across_restarts(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path / "q.db")
    first = [buffer.next_seq() for _ in range(3)]
    buffer.close()
    reopened = DiskBuffer(tmp_path / "q.db")
    assert first == [0, 1, 2]
    assert reopened.next_seq() == 3


def test_events_survive_and_are_never_dropped(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path / "q.db", max_bytes=64 * 1024)
    buffer.append_event(b'{"stored": ["P0301"]}')
    for i in range(3000):
        buffer.append_sample(T0 + timedelta(seconds=i), FAST, priority=Priority.SLOW if i % 60 == 0 else Priority.FAST)
    assert [e.body for e in buffer.oldest_events(5)] == [b'{"stored": ["P0301"]}']
    assert buffer.used_bytes() <= 64 * 1024
    dropped = buffer.dropped()
    assert dropped["fast"] > 0 and "slow" not in dropped  # fast-set samples go first
    kept = buffer.oldest_samples(5000)
    assert kept[-1].ts == T0 + timedelta(seconds=2999)  # the newest are kept
    assert sum(1 for s in kept if (s.ts - T0).seconds % 60 == 0) == 50  # every slow sample kept


def test_a_week_at_1_hz_fits_the_disk_budget(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path / "q.db", synchronous="OFF")
    for i in range(20_000):
        buffer.append_sample(T0 + timedelta(seconds=i), {**FAST, "RPM": 700.0 + i % 3000})
    per_sample = buffer.used_bytes() / 20_000
    assert per_sample <= 200, per_sample


WRITER = """
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from edge_agent.buffer import DiskBuffer
buffer = DiskBuffer(Path(sys.argv[1]))
start = datetime(2026, 11, 26, tzinfo=UTC)
for i in range(1_000_000):
    buffer.append_sample(start + timedelta(seconds=i), {"RPM": float(i)})
    print(i, flush=True)
"""


def test_kill_9_loses_nothing_committed_and_leaves_a_sound_file(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    committed = -1
    deadline = time.monotonic() + 30
    while committed < 300 and time.monotonic() < deadline:
        committed = int(writer.stdout.readline())
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    samples = DiskBuffer(path).oldest_samples(1_000_000)
    values = [s.readings["RPM"] for s in samples]
    assert values == [float(i) for i in range(len(values))]  # in order, no holes
    assert len(values) >= committed + 1  # everything reported committed is there


@pytest.mark.parametrize("bad", ["/proc/no/such/dir/q.db"])
def test_unusable_path_is_a_named_error(bad: str) -> None:
    from edge_agent.buffer import QueueFileError

    with pytest.raises(QueueFileError, match="cannot open queue"):
        DiskBuffer(Path(bad))
