"""Collect received messages into batches that flush on size or on age. Pure: time is passed in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")


@dataclass
class Batcher(Generic[Item]):
    """A batch is ready when it holds `max_items` or its first item is `max_wait_s` old."""

    max_items: int
    max_wait_s: float
    _items: list[Item] = field(default_factory=list)
    _opened_at: float | None = None

    def add(self, item: Item, *, now: float) -> None:
        if self._opened_at is None:
            self._opened_at = now
        self._items.append(item)

    def __len__(self) -> int:
        return len(self._items)

    def deadline(self) -> float | None:
        """Return the monotonic time at which the open batch must flush, or None when empty."""
        return None if self._opened_at is None else self._opened_at + self.max_wait_s

    def ready(self, *, now: float) -> bool:
        if not self._items:
            return False
        deadline = self.deadline()
        return len(self._items) >= self.max_items or (deadline is not None and now >= deadline)

    def take(self) -> list[Item]:
        items, self._items, self._opened_at = self._items, [], None
        return items
