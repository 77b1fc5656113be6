"""How many dead letters ingest keeps per device: a token bucket per device, the excess counted and
summarised. Pure: time is passed in.

A device (or a forger on its topics) that floods garbage would otherwise fill `dead_letters` with up to
one row per message. Each device may write `per_minute` dead letters a minute (and as many at once);
beyond that its rejected messages are still acknowledged and counted, but not kept one by one: a
summary row per device and minute (`summary_after_s`) says how many were not kept, with their reasons
and bytes. It is written with the next batch after that time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

NO_DEVICE = "(no device id)"
SUMMARY_PREFIX = "rate limit:"


@dataclass
class _Suppressed:
    first_at: datetime
    last_at: datetime
    topic: str
    reasons: Counter[str] = field(default_factory=Counter)
    payload_bytes: int = 0
    since: float = 0.0  # monotonic time of the first suppressed letter


@dataclass(frozen=True, slots=True)
class Summary:
    """One row standing for the dead letters of a device that were not kept."""

    received_at: datetime
    topic: str
    device_id: str | None
    reason: str
    detail: str
    payload_bytes: int
    count: int


@dataclass
class DeadLetterLimiter:
    per_minute: int
    summary_after_s: float = 60.0
    _tokens: dict[str, float] = field(default_factory=dict)
    _refilled_at: dict[str, float] = field(default_factory=dict)
    _pending: dict[str, _Suppressed] = field(default_factory=dict)

    def admit(
        self, device_id: str | None, *, reason: str, topic: str, payload_bytes: int, received_at: datetime, now: float
    ) -> bool:
        """Tell whether this dead letter is kept; if not, count it towards the device's next summary."""
        key = device_id or NO_DEVICE
        tokens = min(
            float(self.per_minute),
            self._tokens.get(key, float(self.per_minute))
            + (now - self._refilled_at.get(key, now)) * self.per_minute / 60,
        )
        self._refilled_at[key] = now
        if tokens >= 1:
            self._tokens[key] = tokens - 1
            return True
        self._tokens[key] = tokens
        pending = self._pending.setdefault(key, _Suppressed(received_at, received_at, topic, since=now))
        pending.last_at, pending.topic = received_at, topic
        pending.reasons[reason] += 1
        pending.payload_bytes += payload_bytes
        return False

    def summaries(self, *, now: float, flush: bool = False) -> list[Summary]:
        """Return (and forget) the summaries of devices whose first uncounted letter is `summary_after_s` old."""
        due = [key for key, p in self._pending.items() if flush or now - p.since >= self.summary_after_s]
        return [self._summary(key, self._pending.pop(key)) for key in sorted(due)]

    def _summary(self, key: str, pending: _Suppressed) -> Summary:
        count = sum(pending.reasons.values())
        reasons = ", ".join(f"{reason} {n}" for reason, n in pending.reasons.most_common())
        detail = (
            f"{SUMMARY_PREFIX} {count} more dead letters of this device from {pending.first_at.isoformat()} to "
            f"{pending.last_at.isoformat()} were acknowledged but not kept (at most {self.per_minute} a minute): "
            f"{reasons}; {pending.payload_bytes} bytes"
        )
        return Summary(
            received_at=pending.last_at,
            topic=pending.topic,
            device_id=None if key == NO_DEVICE else key,
            reason=pending.reasons.most_common(1)[0][0],
            detail=detail,
            payload_bytes=pending.payload_bytes,
            count=count,
        )
