"""`pitcall bench predict`: score one data day for a large fleet (issue 4 target: 10,000 vehicles < 60 s).

Setup (not timed): a seeded fleet of `distinct` simulated cars is loaded with its history (COPY), its
daily features are computed, then both are replicated in SQL until the store holds `vehicles` cars:
every copy gets the last day's raw samples and the kept daily features of the days before, as a live
deployment has after `pitcall predict run` has been going for a while. Timed: cycles of the live
service (`predict.service.LiveScorer`). The first computes the features of the last two days from the raw
samples of every vehicle, reads the history back, scores both days and raises alerts; later ones (the
target) compute and score today, and yesterday only for vehicles whose data for it changed (none here:
the steady state between late deliveries). The baseline measured in the same run is a plain `count(*)`
over the two days' raw samples (the least any scoring must read).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection, text

from pitcall.evaluate import recreate_database
from predict.features import load_days
from predict.model import shipped
from predict.service import LiveScorer, save_days
from simulators.bulk_load import bulk_load
from simulators.history import Cadence
from simulators.scenario import FleetPlan
from store import migrate
from store.db import make_engine


@dataclass(frozen=True)
class PredictBench:
    vehicles: int
    raw_samples: int
    feature_days: int
    count_baseline_s: float
    cold_cycle_s: float  # the service's first cycle: reads 150 days of kept features
    warm_cycle_s: float  # every cycle after
    opened: int
    cold_phases: dict[str, float]
    warm_phases: dict[str, float]


def run(database_url: str, *, vehicles: int, distinct: int, history_days: int, reuse: bool = False) -> PredictBench:
    """Set up (or, with `reuse`, keep the fleet of a previous run, dropping its alerts) and time one cycle."""
    start = date(2026, 9, 1)
    last = start + timedelta(days=history_days - 1)
    db = make_engine(database_url)
    if reuse:
        with db.begin() as conn:
            conn.execute(text("TRUNCATE alert_transitions, alerts, outbox CASCADE"))  # bookings refer to alerts
    else:
        recreate_database(database_url)
        migrate.upgrade(database_url)
        plan = FleetPlan(seed=77, vehicles=distinct, start=start, days=history_days, prefix="bp")
        bulk_load(database_url, plan, cadence=Cadence())
        with db.begin() as conn:
            save_days(conn, load_days(conn, first=start, last=last - timedelta(days=2)))
            _replicate(conn, copies=max(1, vehicles // distinct), distinct=distinct, last=last)
    with db.connect() as conn:  # what autovacuum does on a live database: the planner needs row counts
        for table in ("telemetry", "vehicles", "vehicle_day_features"):
            conn.execute(text(f"ANALYZE {table}"))
        conn.commit()
    with db.connect() as conn:
        mark = time.perf_counter()
        raw = conn.scalar(text("SELECT count(*) FROM telemetry WHERE ts >= :a"), {"a": last - timedelta(days=1)}) or 0
        baseline = time.perf_counter() - mark
        fleet = conn.scalar(text("SELECT count(*) FROM vehicles")) or 0
        feature_days = conn.scalar(text("SELECT count(*) FROM vehicle_day_features")) or 0
    scorer = LiveScorer(shipped())
    mark = time.perf_counter()
    stats = scorer.cycle(db, today=last)
    cold = time.perf_counter() - mark
    mark = time.perf_counter()
    warm_stats = scorer.cycle(db, today=last)  # the next cycle: same amount of new data, engine warm
    warm = time.perf_counter() - mark
    db.dispose()
    return PredictBench(fleet, raw, feature_days, baseline, cold, warm, stats.opened, stats.phases, warm_stats.phases)


def _replicate(conn: Connection, *, copies: int, distinct: int, last: date) -> None:
    """Clone the simulated cars (vehicles, recent raw samples, kept features) `copies - 1` times."""
    for copy in range(1, copies):
        conn.execute(
            text("""
            INSERT INTO vehicles (store_id, vin, make, model, year, engine)
            SELECT store_id, left(vin, 11) || lpad(CAST(:copy AS text), 2, '0') || right(vin, 4),
                   make, model, year, engine
            FROM vehicles WHERE id <= :distinct ORDER BY id
            """),
            {"copy": copy, "distinct": distinct},
        )
    conn.execute(
        text("""
        INSERT INTO telemetry (ts, vehicle_id, device_id, seq, pids)
        SELECT t.ts, v.id, t.device_id, t.seq, t.pids
        FROM telemetry t JOIN vehicles v ON v.id > :distinct AND (v.id - 1) % :distinct + 1 = t.vehicle_id
        WHERE t.ts >= CAST(:since AS date) - 1
        """),
        {"distinct": distinct, "since": last - timedelta(days=1)},
    )
    conn.execute(
        text("""
        INSERT INTO vehicle_day_features (vehicle_id, day, features, quality)
        SELECT v.id, f.day, f.features, f.quality
        FROM vehicle_day_features f JOIN vehicles v ON v.id > :distinct AND (v.id - 1) % :distinct + 1 = f.vehicle_id
        """),
        {"distinct": distinct},
    )
