"""Jobs that keep the store in shape on the Apache edition: hourly rollups and retention.

On the licensed edition the continuous aggregate and the policies do both inside the database,
and these jobs only clear old dead letters. Functions take a Connection and do not commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, text

from store.timescale import Edition, StorePolicy, edition_from_license

CLAIM_INVALIDATED_HOURS = text("""
DELETE FROM rollup_invalidations
WHERE (vehicle_id, bucket) IN (
  SELECT vehicle_id, bucket FROM rollup_invalidations WHERE bucket <= :horizon
  ORDER BY bucket, vehicle_id LIMIT :limit FOR UPDATE SKIP LOCKED)
RETURNING vehicle_id, bucket
""")

# The claimed hours come as arrays; the constant bounds :first and :last let TimescaleDB open only the
# chunks that hold them (a join on the claimed rows alone gives the planner no time bound: every chunk).
ROLL_UP_HOURS = text("""
INSERT INTO telemetry_hourly_rollup AS r (vehicle_id, pid, bucket, min, max, sum, count)
SELECT t.vehicle_id, kv.key, c.bucket, min(v.x), max(v.x), sum(v.x), count(*)
FROM unnest(CAST(:vehicle_ids AS integer[]), CAST(:buckets AS timestamptz[])) AS c(vehicle_id, bucket)
JOIN telemetry AS t ON t.vehicle_id = c.vehicle_id AND t.ts >= c.bucket AND t.ts < c.bucket + INTERVAL '1 hour'
CROSS JOIN LATERAL jsonb_each(t.pids) AS kv
CROSS JOIN LATERAL (SELECT kv.value::text::float8 AS x) AS v
WHERE t.ts >= :first AND t.ts < :last AND jsonb_typeof(kv.value) = 'number'
GROUP BY t.vehicle_id, kv.key, c.bucket
ON CONFLICT (vehicle_id, pid, bucket) DO UPDATE
  SET min = excluded.min, max = excluded.max, sum = excluded.sum, count = excluded.count
""")


def refresh_rollups(
    conn: Connection, *, now: datetime, settle: timedelta = timedelta(minutes=5), limit: int = 5000
) -> int:
    """Recompute up to `limit` invalidated vehicle-hours that ended at least `settle` ago.

    Returns how many vehicle-hours were recomputed; call again while it returns `limit`.
    A vehicle-hour is recomputed whole from the raw samples, so it is idempotent and late data
    simply invalidates the hour again. `settle` may be negative to include the open hour.
    """
    horizon = now - settle - timedelta(hours=1)
    claimed = conn.execute(CLAIM_INVALIDATED_HOURS, {"horizon": horizon, "limit": limit}).all()
    if claimed:
        buckets = [row.bucket for row in claimed]
        conn.execute(
            ROLL_UP_HOURS,
            {
                "vehicle_ids": [row.vehicle_id for row in claimed],
                "buckets": buckets,
                "first": min(buckets),
                "last": max(buckets) + timedelta(hours=1),
            },
        )
    return len(claimed)


def discard_invalidations(conn: Connection) -> int:
    """Forget invalidated vehicle-hours: on the licensed edition the continuous aggregate does the rollups."""
    return conn.execute(text("DELETE FROM rollup_invalidations")).rowcount


def apply_retention(
    conn: Connection,
    *,
    edition: Edition,
    now: datetime,
    policy: StorePolicy,
    dead_letter_retention: timedelta = timedelta(days=90),
) -> dict[str, int]:
    """Drop raw and rollup chunks past retention (Apache edition) and old dead letters."""
    dropped: dict[str, int] = {}
    if edition is Edition.APACHE:
        for table, keep in (
            ("telemetry", policy.telemetry_retention),
            ("dtc_events", policy.telemetry_retention),
            ("telemetry_hourly_rollup", policy.rollup_retention),
        ):
            chunks = conn.execute(
                text("SELECT drop_chunks(:table, older_than => :cutoff)"),
                {"table": table, "cutoff": now - keep},
            ).all()
            dropped[table] = len(chunks)
    deleted = conn.execute(
        text("DELETE FROM dead_letters WHERE received_at < :cutoff"), {"cutoff": now - dead_letter_retention}
    )
    dropped["dead_letters"] = deleted.rowcount
    return dropped


def current_edition(conn: Connection) -> Edition:
    """Return the TimescaleDB edition the connected server runs."""
    return edition_from_license(conn.execute(text("SHOW timescaledb.license")).scalar())
