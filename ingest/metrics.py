"""Prometheus metrics of the ingest service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter("pitcall_ingest_messages_received", "Messages received from the broker", registry=r)
        self.stored = Counter("pitcall_ingest_messages_stored", "Valid messages committed", ["kind"], registry=r)
        self.samples_stored = Counter("pitcall_ingest_samples_stored", "Telemetry samples committed", registry=r)
        self.samples_duplicate = Counter(
            "pitcall_ingest_samples_duplicate", "Redelivered samples that were stored already", registry=r
        )
        self.rejected = Counter("pitcall_ingest_messages_rejected", "Messages dead-lettered", ["reason"], registry=r)
        self.dead_letters_not_kept = Counter(
            "pitcall_ingest_dead_letters_not_kept",
            "Rejected messages over a device's dead-letter rate limit: acknowledged and counted, summarised",
            ["reason"],
            registry=r,
        )
        self.store_retries = Counter("pitcall_ingest_store_retries", "Batches retried after a store error", registry=r)
        self.batch_seconds = Histogram(
            "pitcall_ingest_batch_seconds",
            "Time to validate and commit a batch",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.lag_seconds = Histogram(
            "pitcall_ingest_lag_seconds",
            "Receipt to commit, per message",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.data_lag_seconds = Gauge(
            "pitcall_ingest_data_lag_seconds",
            "Commit time minus the newest sample time of the last batch (how far behind the fleet ingest is)",
            registry=r,
        )
        self.queue_depth = Gauge("pitcall_ingest_queue_depth", "Deliveries received, not yet committed", registry=r)
        self.share_group_members = Gauge(
            "pitcall_ingest_share_group_members",
            "Workers that answered this worker's last round of share-group canaries (the broker cannot tell)",
            ["kind"],
            registry=r,
        )
        self.share_group_unanswered = Gauge(
            "pitcall_ingest_share_group_canaries_unanswered",
            "Canaries of the last round that no pitcall worker answered: a foreign, stopped or stalled member",
            ["kind"],
            registry=r,
        )
        self.connected = Gauge("pitcall_ingest_broker_connected", "1 while connected to the broker", registry=r)
