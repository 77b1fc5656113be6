"""Deliveries handed from the MQTT thread to the event loop, at most `capacity` held at once.

A delivery counts as held from `put` until `release` (called once its batch is acknowledged), so the
inbox and the batch being written never hold more than `capacity` messages together. When full, `put`
blocks the MQTT thread: paho stops reading the socket, TCP pushes back on the broker, and the broker
keeps the rest. This is the bound that counts: the broker's respect of our `receive_maximum` is not
(Mosquitto 2.0.11, draining a session's backlog, sent 72,000 unacknowledged messages to an ingest
announcing 2,000; docs/ingest.md). `close` frees a blocked `put`, which then drops its delivery
unacknowledged: the broker redelivers it on the next connection.

The loop is woken only when it is waiting, not once per message (waking it per message cost more
than validating the message).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque

from ingest.rows import Delivery


class Inbox:
    def __init__(self, loop: asyncio.AbstractEventLoop, *, capacity: int) -> None:
        self._loop = loop
        self._capacity = capacity
        self._items: deque[Delivery] = deque()
        self._held = 0
        self._closed = False
        self._room = threading.Condition()
        self._event = asyncio.Event()
        self._waiting = False

    def put(self, delivery: Delivery) -> bool:
        """Add a delivery, waiting while `capacity` are held; False (not added) once closed. Any thread."""
        with self._room:
            while self._held >= self._capacity and not self._closed:
                self._room.wait()
            if self._closed:
                return False
            self._items.append(delivery)
            self._held += 1
            wake, self._waiting = self._waiting, False
        if wake:
            self._loop.call_soon_threadsafe(self._event.set)
        return True

    def release(self, count: int) -> None:
        """Free the room of `count` deliveries taken earlier (their batch is done)."""
        with self._room:
            self._held -= count
            self._room.notify_all()

    def close(self) -> None:
        """Refuse further deliveries and free any `put` waiting for room."""
        with self._room:
            self._closed = True
            self._room.notify_all()

    def wake(self) -> None:
        """Wake a waiting consumer without adding anything (used on stop); loop thread only."""
        self._event.set()

    def take(self, limit: int) -> list[Delivery]:
        """Remove and return up to `limit` deliveries, oldest first (they stay held until `release`)."""
        with self._room:
            count = min(limit, len(self._items))
            return [self._items.popleft() for _ in range(count)]

    def __len__(self) -> int:
        return len(self._items)

    @property
    def held(self) -> int:
        """Deliveries in the inbox or in a batch not yet released."""
        return self._held

    async def wait(self, timeout_s: float | None) -> None:
        """Return when a delivery is waiting, `wake` was called, or the timeout passed."""
        with self._room:
            if self._items:
                return
            self._waiting = True
            self._event.clear()
        try:
            await asyncio.wait_for(self._event.wait(), timeout_s)
        except TimeoutError:
            pass
        finally:
            with self._room:
                self._waiting = False
