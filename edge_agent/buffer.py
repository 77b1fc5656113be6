"""The agent's on-disk store-and-forward queue (SQLite in WAL mode).

Contract:
- Every sample and DTC event is committed to disk before anything else happens to it, and deleted
  only by `acknowledge`, which the publisher calls after the broker's PUBACK for the message that
  carried it. A crash (kill -9, power loss with `synchronous=FULL`) loses nothing committed and
  never corrupts the queue (SQLite's WAL journal).
- `next_seq` hands out the wire protocol's per-device message counter: strictly increasing and
  persisted, so it survives restarts.
- The queue is bounded by `max_bytes`. When full, the oldest fast-set samples are dropped first, then
  the oldest slow-set samples; DTC events are never dropped. Drops are counted (`dropped`).
- Readings are packed as (uint16 PID id, float64 value) pairs, NaN standing for "no answer", which
  keeps a 12-PID sample near 150 bytes on disk.
"""

from __future__ import annotations

import math
import sqlite3
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path

READING = struct.Struct("<Hd")
SCHEMA = """
CREATE TABLE IF NOT EXISTS pid_names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS samples (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_us INTEGER NOT NULL,
                                    priority INTEGER NOT NULL, readings BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS samples_by_priority ON samples (priority, id);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Priority(IntEnum):
    """Which samples go first when the disk bound is reached: lower goes first."""

    FAST = 0
    SLOW = 1


class QueueFileError(Exception):
    """The queue file cannot be opened or written."""


@dataclass(frozen=True, slots=True)
class BufferedSample:
    id: int
    ts: datetime
    readings: dict[str, float | None]


@dataclass(frozen=True, slots=True)
class BufferedEvent:
    id: int
    body: bytes


class DiskBuffer:
    """A bounded, durable FIFO of samples and events. Not thread-safe: one owner."""

    def __init__(self, path: Path, *, max_bytes: int = 128 * 1024 * 1024, synchronous: str = "FULL") -> None:
        self._max_bytes = max_bytes
        try:
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise QueueFileError(f"cannot open queue {path}: {exc}") from exc
        self._pid_ids = dict(self._db.execute("SELECT name, id FROM pid_names").fetchall())
        self._pid_names = {v: k for k, v in self._pid_ids.items()}
        self._page_size = int(self._db.execute("PRAGMA page_size").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def append_sample(
        self, ts: datetime, readings: Mapping[str, float | None], *, priority: Priority = Priority.FAST
    ) -> None:
        """Commit one sample to disk (then enforce the size bound)."""
        with self._transaction():
            blob = b"".join(
                READING.pack(self._pid_id(name), math.nan if value is None else float(value))
                for name, value in readings.items()
            )
            self._db.execute(
                "INSERT INTO samples (ts_us, priority, readings) VALUES (?, ?, ?)", (_to_us(ts), int(priority), blob)
            )
        self._enforce_bound()

    def append_event(self, body: bytes) -> None:
        """Commit one event (a serialised dtc message without its seq); never dropped."""
        with self._transaction():
            self._db.execute("INSERT INTO events (body) VALUES (?)", (body,))

    def oldest_samples(self, limit: int) -> list[BufferedSample]:
        return self.samples_after(0, limit=limit)

    def samples_after(self, after_id: int, *, limit: int, upto: int | None = None) -> list[BufferedSample]:
        """Return up to `limit` samples with after_id < id (<= upto), oldest first."""
        rows = self._db.execute(
            "SELECT id, ts_us, readings FROM samples WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
            (after_id, upto if upto is not None else 2**62, limit),
        ).fetchall()
        return [self._sample(row) for row in rows]

    def last_sample_id(self) -> int:
        """Return the id of the newest sample ever queued, 0 if none; ids are never reused (AUTOINCREMENT),
        so cursors over them stay valid after the queue empties."""
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'samples'").fetchone()
        return int(row[0]) if row else 0

    def oldest_events(self, limit: int, *, skip: Iterable[int] = ()) -> list[BufferedEvent]:
        skipped = set(skip)
        rows = self._db.execute("SELECT id, body FROM events ORDER BY id LIMIT ?", (limit + len(skipped),))
        return [BufferedEvent(r[0], r[1]) for r in rows if r[0] not in skipped][:limit]

    def acknowledge(self, *, samples: Iterable[int] = (), events: Iterable[int] = ()) -> None:
        """Delete what the broker has acknowledged."""
        with self._transaction():
            self._db.executemany("DELETE FROM samples WHERE id = ?", [(i,) for i in samples])
            self._db.executemany("DELETE FROM events WHERE id = ?", [(i,) for i in events])

    def next_seq(self) -> int:
        """Return the next message counter value, persisted before it is returned."""
        with self._transaction():
            self._db.execute("INSERT INTO counters VALUES ('seq', 0) ON CONFLICT(name) DO UPDATE SET value = value + 1")
            return int(self._db.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0])

    def depth(self) -> int:
        """Return how many samples and events wait to be sent."""
        samples = self._db.execute("SELECT count(*) FROM samples").fetchone()[0]
        events = self._db.execute("SELECT count(*) FROM events").fetchone()[0]
        return int(samples) + int(events)

    def dropped(self) -> dict[str, int]:
        rows = self._db.execute("SELECT name, value FROM counters WHERE name LIKE 'dropped_%'").fetchall()
        return {name.removeprefix("dropped_"): int(value) for name, value in rows}

    def used_bytes(self) -> int:
        """Return the bytes the queue occupies inside its file (freed pages excluded)."""
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        return (int(pages) - int(free)) * self._page_size

    def _enforce_bound(self) -> None:
        if self.used_bytes() <= self._max_bytes:
            return
        for priority in (Priority.FAST, Priority.SLOW):
            while self.used_bytes() > self._max_bytes * 0.95:
                with self._transaction():
                    deleted = self._db.execute(
                        "DELETE FROM samples WHERE id IN (SELECT id FROM samples WHERE priority = ? ORDER BY id "
                        "LIMIT 256)",
                        (int(priority),),
                    ).rowcount
                    if deleted:
                        self._db.execute(
                            "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + ?",
                            (f"dropped_{priority.name.lower()}", deleted, deleted),
                        )
                if not deleted:
                    break

    def _pid_id(self, name: str) -> int:
        pid_id = self._pid_ids.get(name)
        if pid_id is None:
            pid_id = int(
                self._db.execute("INSERT INTO pid_names (name) VALUES (?) RETURNING id", (name,)).fetchone()[0]
            )
            self._pid_ids[name] = pid_id
            self._pid_names[pid_id] = name
        return pid_id

    def _sample(self, row: tuple[int, int, bytes]) -> BufferedSample:
        sample_id, ts_us, blob = row
        readings: dict[str, float | None] = {}
        for pid_id, value in READING.iter_unpack(blob):
            readings[self._pid_names[pid_id]] = None if math.isnan(value) else value
        return BufferedSample(sample_id, datetime.fromtimestamp(ts_us / 1_000_000, UTC), readings)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on error; SQLite errors re-raised as QueueFileError."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
            return
        self._db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise QueueFileError(str(exc)) from exc


def _to_us(ts: datetime) -> int:
    return round(ts.timestamp() * 1_000_000)
