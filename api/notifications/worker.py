"""The notifier: dispatch new outbox events and deliver due deliveries, every second until stopped."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from api.notifications.adapters import Adapters, HttpWebhookPoster, build_adapters
from api.notifications.delivery import DeliveryReport, deliver_due
from api.notifications.dispatch import dispatch
from api.notifications.rules import RetryPolicy
from api.notifications.settings import NotifierSettings
from store.db import make_engine

log = logging.getLogger(__name__)
DISPATCH_BATCHES = 10  # per round at most, so a burst of events does not hold up delivery


@dataclass(frozen=True, slots=True)
class RoundReport:
    dispatched: int
    deliveries: DeliveryReport


def adapters_from(settings: NotifierSettings) -> Adapters:
    """Build the adapters the settings name."""
    return build_adapters(
        webhook_key=settings.webhook_key.get_secret_value(),
        timeout_s=settings.http_timeout_s,
        senders=settings.senders,
        egress=settings.egress,
        public_url=settings.public_url,
    )


def run_once(
    engine: Engine,
    now: datetime,
    *,
    adapters: Adapters | None = None,
    policy: RetryPolicy | None = None,
    batch_size: int = 20,
) -> RoundReport:
    """Dispatch undispatched events (up to 10 batches of 100), then deliver what is due at `now` (one batch).

    Without `adapters`, those of `NotifierSettings()` are used (by default: development webhook key,
    logging senders, webhooks to any address).
    """
    if adapters is None:
        defaults = adapters_from(NotifierSettings())
        try:
            return run_once(engine, now, adapters=defaults, policy=policy, batch_size=batch_size)
        finally:
            _close(defaults)
    dispatched = 0
    for _ in range(DISPATCH_BATCHES):
        with engine.begin() as conn:
            done = dispatch(conn, now)
        dispatched += done
        if done == 0:
            break
    report = deliver_due(engine, now, adapters, policy=policy, limit=batch_size)
    return RoundReport(dispatched, report)


def run_notifier(settings: NotifierSettings, stop_event: threading.Event) -> None:
    """Run rounds until `stop_event` is set; a full batch starts the next round at once."""
    engine = make_engine(settings.database_url)
    adapters = adapters_from(settings)
    log.info("notifier started", extra={"interval_s": settings.interval_s, "max_attempts": settings.max_attempts})
    try:
        while not stop_event.is_set():
            result = run_once(
                engine, datetime.now(UTC), adapters=adapters, policy=settings.policy, batch_size=settings.batch_size
            )
            if result.dispatched or result.deliveries != DeliveryReport():
                log.info("notifier round", extra={"dispatched": result.dispatched, **_counts(result.deliveries)})
            busy = sum(_counts(result.deliveries).values()) >= settings.batch_size
            if not busy:
                stop_event.wait(settings.interval_s)
    finally:
        _close(adapters)
        engine.dispose()
        log.info("notifier stopped")


def _counts(report: DeliveryReport) -> dict[str, int]:
    return {"delivered": report.delivered, "retrying": report.retrying, "dead": report.dead}


def _close(adapters: Adapters) -> None:
    if isinstance(adapters.webhook, HttpWebhookPoster):
        adapters.webhook.close()
