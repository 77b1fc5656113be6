"""`pitcall bench rollups`: how long the maintain job takes to roll up invalidated vehicle-hours.

Runs against a database that already holds telemetry (an evaluation's, say): claims N random
vehicle-hours of the last stored days as invalidated, times `store.maintenance.refresh_rollups`, and
as the baseline a plain count of the last stored day's raw samples. Each run is rolled back, so the database
is left as it was.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text

from store.db import make_engine
from store.maintenance import refresh_rollups

# The machine's baseline in the same run: count the raw samples of the last stored day (a plain scan of
# one day's chunk), and the claimed hours' own samples (index lookups from unnest).
LAST_DAY_SAMPLES = text("SELECT count(*) FROM telemetry WHERE ts > :last - INTERVAL '1 day' AND ts <= :last")
CLAIMED_SAMPLES = text("""
SELECT count(*) FROM unnest(CAST(:vehicle_ids AS integer[]), CAST(:buckets AS timestamptz[])) AS c(vehicle_id, bucket)
JOIN telemetry AS t ON t.vehicle_id = c.vehicle_id AND t.ts >= c.bucket AND t.ts < c.bucket + INTERVAL '1 hour'
WHERE t.ts >= :first AND t.ts < :last
""")


@dataclass(frozen=True)
class RollupRun:
    hours: int
    samples: int  # in the claimed hours
    day_samples: int  # in the last stored day (the baseline's scan)
    count_baseline_s: float
    refresh_s: float
    rollup_rows: int


def run(database_url: str, *, hours: int, spread_days: int, repeats: int, seed: int = 1) -> list[RollupRun]:
    db = make_engine(database_url)
    with db.connect() as conn:
        vehicle_ids = [r[0] for r in conn.execute(text("SELECT id FROM vehicles ORDER BY id"))]
        last = conn.execute(text("SELECT max(ts) FROM telemetry")).scalar()
    if last is None or not vehicle_ids:
        raise ValueError("the database holds no telemetry to roll up")
    rng = random.Random(seed)
    start = last.replace(minute=0, second=0, microsecond=0) - timedelta(days=spread_days)
    claimed = sorted(
        {(rng.choice(vehicle_ids), start + timedelta(hours=rng.randrange(24 * spread_days))) for _ in range(hours)}
    )
    rows = [{"v": v, "b": b} for v, b in claimed]
    out = []
    for _ in range(repeats):
        with db.connect() as conn:
            tx = conn.begin()
            conn.execute(text("DELETE FROM rollup_invalidations"))
            conn.execute(text("INSERT INTO rollup_invalidations VALUES (:v, :b)"), rows)
            mark = time.perf_counter()
            day_samples = conn.execute(LAST_DAY_SAMPLES, {"last": last}).scalar() or 0
            baseline = time.perf_counter() - mark
            samples = conn.execute(CLAIMED_SAMPLES, {
                "vehicle_ids": [v for v, _ in claimed], "buckets": [b for _, b in claimed],
                "first": claimed[0][1], "last": max(b for _, b in claimed) + timedelta(hours=1),
            }).scalar() or 0  # fmt: skip
            mark = time.perf_counter()
            done = refresh_rollups(conn, now=last + timedelta(days=1), limit=len(rows))
            refresh = time.perf_counter() - mark
            rollup_rows = conn.execute(text("SELECT count(*) FROM telemetry_hourly_rollup")).scalar() or 0
            tx.rollback()
        out.append(RollupRun(done, samples, day_samples, baseline, refresh, rollup_rows))
    db.dispose()
    return out
