"""The per-device dead-letter limit: a token bucket, the excess counted into one summary per device."""

from __future__ import annotations

from datetime import UTC, datetime

from ingest.dead_letters import DeadLetterLimiter

T = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def _admit(limiter: DeadLetterLimiter, device: str | None, now: float, reason: str = "schema") -> bool:
    return limiter.admit(device, reason=reason, topic=f"p/dev/{device}/telemetry", payload_bytes=100, received_at=T,
                         now=now)  # fmt: skip


def test_a_device_keeps_its_burst_then_one_letter_per_refill_and_others_are_not_affected() -> None:
    limiter = DeadLetterLimiter(per_minute=6)
    assert [_admit(limiter, "noisy", 0.0) for _ in range(8)] == [True] * 6 + [False] * 2
    assert _admit(limiter, "quiet", 0.0)
    assert not _admit(limiter, "noisy", 9.0)  # 6 a minute: one token every 10 s
    assert _admit(limiter, "noisy", 10.5)
    assert not _admit(limiter, "noisy", 10.6)


def test_what_is_not_kept_is_summarised_once_due_with_reasons_and_bytes() -> None:
    limiter = DeadLetterLimiter(per_minute=1, summary_after_s=60)
    assert _admit(limiter, "noisy", 0.0) and _admit(limiter, None, 0.0)
    assert not _admit(limiter, "noisy", 1.0, reason="not_json")
    assert not _admit(limiter, None, 1.0, reason="unknown_topic")
    assert not _admit(limiter, "noisy", 2.0, reason="not_json")
    assert not _admit(limiter, "noisy", 3.0, reason="schema")
    assert limiter.summaries(now=60.0) == []
    summaries = limiter.summaries(now=61.0)
    assert [(s.device_id, s.reason, s.count, s.payload_bytes) for s in summaries] == [
        (None, "unknown_topic", 1, 100),
        ("noisy", "not_json", 3, 300),
    ]
    assert "3 more dead letters" in summaries[1].detail and "not_json 2, schema 1" in summaries[1].detail
    assert limiter.summaries(now=200.0) == []  # each counted once
