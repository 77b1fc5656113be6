"""Deliveries handed from the MQTT thread to the event loop.

A deque guarded by a lock; the loop is woken only when it is waiting, not once per message
(waking it per message cost more than validating the message). Its size is bounded by the
broker: no more than `receive_maximum` deliveries are unacknowledged at any time.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque

from ingest.rows import Delivery


class Inbox:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: deque[Delivery] = deque()
        self._lock = threading.Lock()
        self._event = asyncio.Event()
        self._waiting = False

    def put(self, delivery: Delivery) -> None:
        """Add a delivery; safe from any thread."""
        with self._lock:
            self._items.append(delivery)
            wake, self._waiting = self._waiting, False
        if wake:
            self._loop.call_soon_threadsafe(self._event.set)

    def wake(self) -> None:
        """Wake a waiting consumer without adding anything (used on stop); loop thread only."""
        self._event.set()

    def take(self, limit: int) -> list[Delivery]:
        """Remove and return up to `limit` deliveries, oldest first."""
        with self._lock:
            count = min(limit, len(self._items))
            return [self._items.popleft() for _ in range(count)]

    def __len__(self) -> int:
        return len(self._items)

    async def wait(self, timeout_s: float | None) -> None:
        """Return when a delivery is waiting, `wake` was called, or the timeout passed."""
        with self._lock:
            if self._items:
                return
            self._waiting = True
            self._event.clear()
        try:
            await asyncio.wait_for(self._event.wait(), timeout_s)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiting = False
