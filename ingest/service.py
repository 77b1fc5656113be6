"""The ingest coordinator: owns the timing and the I/O around the pure steps.

    broker ─► inbox ─► batch (size or age) ─► parse ─► registry check ─► rows ─► one transaction ─► ack

A batch is acknowledged only after its transaction commits; then each device whose messages it held
gets an end-to-end ack with their seqs (wire protocol `ack` topic), after which its agent deletes them.
While the database is away the batch is retried with backoff and nothing new is taken (the broker
stops sending once `receive_maximum` deliveries are unacknowledged, and the inbox holds at most
`max_held_messages` whatever the broker sends). On stop: take nothing new, commit and ack what was
received, exit; if the database does not come back within the drain timeout, exit without acking (the
broker will redeliver).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from ingest import writer
from ingest.batch import Batcher
from ingest.dead_letters import DeadLetterLimiter, Summary
from ingest.directory import DeviceDirectory
from ingest.errors import RejectedByStoreError, TransientStoreError
from ingest.inbox import Inbox
from ingest.metrics import IngestMetrics
from ingest.mqtt import BrokerOptions, MqttSource
from ingest.rows import Delivery, WriteSet, build_write_set
from ingest.settings import IngestSettings
from ingest.share_group import ShareGroupProbe
from ingest.validate import Accepted, Limits, Parsed, Rejected, authorize, parse, seqs_to_confirm
from store.db import asyncpg_url
from wire import MessageKind
from wire.topics import shared_filter
from wire.v1 import TelemetryMessage

log = logging.getLogger(__name__)
Verdict = tuple[Delivery, Accepted | Rejected]
DeadLetterPlan = tuple[set[int], list[Summary]]  # (indexes of dead letters not kept, summaries to write)


def broker_options(settings: IngestSettings) -> BrokerOptions:
    kinds = (MessageKind.TELEMETRY, MessageKind.DTC, MessageKind.STATUS)
    return BrokerOptions(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        client_id=settings.client_id,
        username=settings.mqtt_username,
        password=settings.mqtt_password.get_secret_value() or None,
        filters=[shared_filter(k, group=settings.share_group, prefix=settings.topic_prefix) for k in kinds],
        receive_maximum=settings.receive_maximum,
        tls=settings.mqtt_tls,
        tls_ca_file=settings.mqtt_ca_file,
        ack_prefix=settings.topic_prefix if settings.end_to_end_acks else None,
        canary_prefix=settings.topic_prefix,  # every worker answers canaries, even with its own probe off
    )


class IngestService:
    def __init__(
        self,
        settings: IngestSettings,
        *,
        metrics: IngestMetrics | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self.metrics = metrics or IngestMetrics()
        self._monotonic = monotonic
        self._sleep = sleep
        self._limits = Limits(max_sample_age=settings.max_sample_age, max_future=settings.max_future)
        self._drain_deadline: float | None = None
        self._dead_letters = DeadLetterLimiter(
            settings.dead_letters_per_device_per_min, summary_after_s=settings.dead_letter_summary_s
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set, then drain and return."""
        inbox = Inbox(asyncio.get_running_loop(), capacity=self._settings.max_held_messages)
        probe = ShareGroupProbe(self._settings.canary_count)
        source = MqttSource(
            broker_options(self._settings),
            on_delivery=inbox.put,
            on_ready=lambda ready: self.metrics.connected.set(1 if ready else 0),
            on_echo=probe.record_echo,
        )
        pool = await asyncpg.create_pool(
            asyncpg_url(self._settings.database_url),
            min_size=0,
            max_size=self._settings.pool_size,
            init=writer.prepare_connection,
        )
        directory = DeviceDirectory(pool, refresh_s=self._settings.device_refresh_s, monotonic=self._monotonic)
        stopper = asyncio.create_task(self._on_stop(stop, source, inbox))
        prober = asyncio.create_task(self._probe_share_group(source, probe, stop))
        source.start()
        try:
            while True:
                batch = await self._next_batch(inbox, stop)
                if not batch:
                    break
                self.metrics.queue_depth.set(inbox.held)
                done = await self._process(batch, pool, directory, source, stop)
                inbox.release(len(batch))
                if not done:
                    break
        finally:
            stopper.cancel()
            prober.cancel()
            inbox.close()
            source.close()
            await pool.close()
            log.info("ingest stopped", extra={"unacknowledged": len(inbox)})

    async def _on_stop(self, stop: asyncio.Event, source: MqttSource, inbox: Inbox) -> None:
        await stop.wait()
        source.stop_taking()
        inbox.wake()
        self._drain_deadline = self._monotonic() + self._settings.drain_timeout_s
        log.info("stopping: draining received messages", extra={"timeout_s": self._settings.drain_timeout_s})

    async def _probe_share_group(self, source: MqttSource, probe: ShareGroupProbe, stop: asyncio.Event) -> None:
        """Rounds of canaries: how many workers answer, how many canaries nobody answers (share_group.py)."""
        interval, timeout = self._settings.canary_interval_s, self._settings.canary_timeout_s
        while interval > 0 and not await _stopped_within(stop, interval):
            round_no = probe.next_round()
            source.send_canaries(round_no, probe.count)
            if await _stopped_within(stop, timeout):
                return
            for result in probe.results(round_no):
                self.metrics.share_group_members.labels(result.kind).set(result.members)
                self.metrics.share_group_unanswered.labels(result.kind).set(result.unanswered)
                if result.unanswered:
                    log.warning(
                        "share group has a member that does not answer canaries (foreign subscriber, stopped or "
                        "stalled worker)",
                        extra={"kind": result.kind, "unanswered": result.unanswered, "sent": result.sent,
                               "members_answering": result.members},
                    )  # fmt: skip

    async def _next_batch(self, inbox: Inbox, stop: asyncio.Event) -> list[Delivery]:
        """Return the next batch once it is full or old enough; [] once stopped with nothing left."""
        batcher: Batcher[Delivery] = Batcher(self._settings.batch_max_messages, self._settings.batch_max_wait_s)
        while True:
            now = self._monotonic()
            for delivery in inbox.take(batcher.max_items - len(batcher)):
                batcher.add(delivery, now=now)
            if batcher.ready(now=now) or (stop.is_set() and (len(batcher) or not len(inbox))):
                return batcher.take()
            deadline = batcher.deadline()
            await inbox.wait(None if deadline is None else max(0.0, deadline - now))

    async def _process(
        self,
        batch: list[Delivery],
        pool: asyncpg.Pool,
        directory: DeviceDirectory,
        source: MqttSource,
        stop: asyncio.Event,
    ) -> bool:
        """Commit a batch (retrying while the store is away) and ack it; False if given up on stop."""
        started = self._monotonic()
        self.metrics.received.inc(len(batch))
        parsed = [
            (d, parse(d.topic, d.payload, prefix=self._settings.topic_prefix, limits=self._limits)) for d in batch
        ]
        delay = self._settings.retry_initial_s
        plan: DeadLetterPlan | None = None
        while True:
            try:
                verdicts = await self._authorize(parsed, directory)
                plan = plan or self._plan_dead_letters(verdicts)  # once per batch, retries reuse it
                await self._write(verdicts, pool, plan)
                break
            except TransientStoreError as exc:
                self.metrics.store_retries.inc()
                if stop.is_set() and self._drain_deadline is not None and self._monotonic() >= self._drain_deadline:
                    log.error("store unavailable at stop; leaving batch unacknowledged", extra={"error": str(exc)})
                    return False
                log.warning("store unavailable; retrying batch", extra={"error": str(exc), "retry_in_s": delay})
                await self._sleep(delay)
                delay = min(delay * 2, self._settings.retry_max_s)
        source.ack([d.ack for d in batch])
        source.confirm(seqs_to_confirm(p for _, p in parsed))
        self._record(verdicts, started, plan)
        return True

    def _plan_dead_letters(self, verdicts: list[Verdict]) -> DeadLetterPlan:
        """Decide which dead letters of the batch are kept under each device's rate limit."""
        now = self._monotonic()
        not_kept = {
            index
            for index, (delivery, verdict) in enumerate(verdicts)
            if isinstance(verdict, Rejected)
            and not self._dead_letters.admit(
                verdict.device_id,
                reason=verdict.reason,
                topic=delivery.topic,
                payload_bytes=len(delivery.payload),
                received_at=delivery.received_at,
                now=now,
            )
        }
        return not_kept, self._dead_letters.summaries(now=now)

    def _rows(self, verdicts: list[Verdict], plan: DeadLetterPlan) -> WriteSet:
        return build_write_set(
            verdicts,
            not_kept=plan[0],
            summaries=plan[1],
            dead_letter_max_bytes=self._settings.dead_letter_max_kib * 1024,
        )

    async def _authorize(
        self, parsed: list[tuple[Delivery, Parsed | Rejected]], directory: DeviceDirectory
    ) -> list[Verdict]:
        device_ids = [p.message.device_id for _, p in parsed if isinstance(p, Parsed)]
        devices = await directory.ensure(device_ids)
        return [
            (
                d,
                authorize(p, devices=devices, now=d.received_at, limits=self._limits) if isinstance(p, Parsed) else p,
            )
            for d, p in parsed
        ]

    async def _write(self, verdicts: list[Verdict], pool: asyncpg.Pool, plan: DeadLetterPlan) -> None:
        try:
            result = await writer.write(pool, self._rows(verdicts, plan))
        except RejectedByStoreError as exc:
            log.error("store refused a batch; writing its messages one by one", extra={"error": str(exc)})
            await self._write_isolated(verdicts, pool, plan)
            return
        self.metrics.samples_stored.inc(result.samples_stored)
        self.metrics.samples_duplicate.inc(result.samples_duplicate)

    async def _write_isolated(self, verdicts: list[Verdict], pool: asyncpg.Pool, plan: DeadLetterPlan) -> None:
        """Write each message alone; dead-letter the ones the database refuses."""
        not_kept, summaries = plan
        for index, (delivery, verdict) in enumerate(verdicts):
            alone: DeadLetterPlan = ({0} if index in not_kept else set(), [])
            try:
                result = await writer.write(pool, self._rows([(delivery, verdict)], alone))
                self.metrics.samples_stored.inc(result.samples_stored)
            except RejectedByStoreError as exc:
                device_id = verdict.message.device_id if isinstance(verdict, Accepted) else verdict.device_id
                refused = Rejected("schema", f"refused by the database: {exc}"[:2000], device_id)
                verdicts[index] = (delivery, refused)
                await writer.write(pool, self._rows([(delivery, refused)], (set(), [])))
        if summaries:
            await writer.write(pool, self._rows([], (set(), summaries)))

    def _record(self, verdicts: list[Verdict], started: float, plan: DeadLetterPlan) -> None:
        now = datetime.now(UTC)
        newest_sample: datetime | None = None
        not_kept, summaries = plan
        for summary in summaries:
            log.warning("dead letters over the rate limit", extra={"device_id": summary.device_id,
                        "count": summary.count, "detail": summary.detail})  # fmt: skip
        for index, (delivery, verdict) in enumerate(verdicts):
            if isinstance(verdict, Rejected):
                self.metrics.rejected.labels(verdict.reason).inc()
                if index in not_kept:
                    self.metrics.dead_letters_not_kept.labels(verdict.reason).inc()
                    continue
                log.info(
                    "dead-lettered",
                    extra={"reason": verdict.reason, "topic": delivery.topic, "detail": verdict.detail[:300]},
                )
            else:
                kind = type(verdict.message).__name__.removesuffix("Message").lower()
                self.metrics.stored.labels(kind).inc()
                if isinstance(verdict.message, TelemetryMessage):
                    last = verdict.message.samples[-1].ts
                    newest_sample = last if newest_sample is None else max(newest_sample, last)
            self.metrics.lag_seconds.observe((now - delivery.received_at).total_seconds())
        self.metrics.batch_seconds.observe(self._monotonic() - started)
        if newest_sample is not None:
            self.metrics.data_lag_seconds.set((now - newest_sample).total_seconds())


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds`; return whether `stop` was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
