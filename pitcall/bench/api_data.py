"""The data behind `pitcall bench api`: a large fleet's telemetry, a busy workshop, an alert queue.

Telemetry: `template_cars` simulated cars (`simulators.bulk_load`, a sample every 10 s while
driving) are COPYed and rolled up (the rollup job's aggregate, one statement per day), then cloned
in SQL until the database holds `rows` samples: one INSERT ... SELECT per day and table (raw
samples, then the day's rollup rows in the order the job writes them: by hour, then vehicle), two
days at a time on two connections. Clones go round-robin to `stores` stores of one group; the
first store is the measured one.

Workshop (rebuilt on every run, since bookings are relative to today): the measured store gets 20
technicians, 18 bays and Monday-Saturday hours (`api.seed.seed_workshop`), and two weeks of
confirmed bookings from today, inserted directly (each technician's day filled greedily, a bay
found free for each job, so the exclusion constraints hold). Alerts (a few hundred per store,
through `predict.alerts.raise_alert`) and users are made once with the fleet.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import Connection, Engine, delete, insert, select, text

from api.seed import seed_workshop
from predict import alerts as lifecycle
from predict.alerts import AlertDraft, AlertState
from predict.catalog import FailureMode
from predict.dtc_kb import Severity
from simulators.bulk_load import bulk_load
from simulators.history import Cadence
from simulators.scenario import FleetPlan
from store.db import make_engine
from store.fleet import ensure_store
from store.service_tables import bays, bookings, opening_hours, service_operations, technicians
from store.tables import alerts, stores, vehicles

GROUP = "Simulated dealer group"  # the group simulators.bulk_load registers cars in
STORE_CODES = "BENCH-{:02d}"
TECHNICIANS, BAYS = 20, 18
BOOKING_DAYS = 14
OPENS, CLOSES = clock(8, 30), clock(18, 0)


@dataclass(frozen=True, slots=True)
class FleetFacts:
    vehicles: int
    telemetry_rows: int
    rollup_rows: int
    telemetry_bytes: int
    rollup_bytes: int
    first_day: date
    last_day: date
    phases: dict[str, float]  # seconds per loading phase; empty when reused

    @property
    def load_s(self) -> float:
        return sum(self.phases.values())


@dataclass(frozen=True, slots=True)
class WorkshopFacts:
    store_id: int
    bookings: int
    technician_fill: float  # booked technician-hours / shift hours over the two weeks
    bay_fill: float


def clone_count(rows: int, template_rows: int) -> int:
    """Return how many copies of the template fleet (itself included) reach `rows` samples."""
    return max(1, math.ceil(rows / max(template_rows, 1)))


def load_fleet(
    database_url: str, *, rows: int, days: int, template_cars: int, stores_count: int, say: Callable[[str], None]
) -> FleetFacts:
    """Simulate, COPY, roll up and clone the fleet into the (fresh, migrated) database."""
    phases, mark = {}, time.perf_counter()
    last_day = datetime.now(UTC).date() - timedelta(days=1)
    first_day = last_day - timedelta(days=days - 1)
    plan = FleetPlan(seed=91, vehicles=template_cars, start=first_day, days=days, prefix="ba")
    db = make_engine(database_url)
    with db.begin() as conn:
        conn.execute(text("ALTER TABLE telemetry SET (autovacuum_enabled = false)"))  # see _vacuum
        for index in range(1, stores_count + 1):
            ensure_store(conn, group_name=GROUP, store_code=STORE_CODES.format(index), store_name=f"Bench {index}")
    say(f"simulating and COPYing {template_cars} template cars x {days} days")
    _cars, template_rows = bulk_load(database_url, plan, cadence=Cadence(sample_every_s=10), store_code="BENCH-01")
    with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE telemetry"))  # autovacuum is off: without statistics the rollup plan is poor
    phases["simulate_copy"], mark = time.perf_counter() - mark, time.perf_counter()
    say(f"{template_rows:,} template samples in {phases['simulate_copy']:.0f} s; rolling them up")
    day_list = [first_day - timedelta(days=1) + timedelta(days=i) for i in range(days + 1)]  # local days spill over
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda d: _roll_up_day(database_url, d), day_list))
    phases["rollup"], mark = time.perf_counter() - mark, time.perf_counter()
    copies = clone_count(rows, template_rows)
    with db.begin() as conn:
        _add_vehicle_copies(conn, copies=copies)
    say(f"cloning into {copies} copies of the fleet, one day per statement on two connections")
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda d: _clone_day(database_url, d), day_list))
    phases["clone"], mark = time.perf_counter() - mark, time.perf_counter()
    say(f"cloned in {phases['clone']:.0f} s; VACUUM ANALYZE")
    _vacuum(database_url)
    phases["vacuum_analyze"] = time.perf_counter() - mark
    db.dispose()
    return fleet_facts(database_url, phases=phases)


def _roll_up_day(database_url: str, day: date) -> None:
    """Roll up one UTC day of the template's samples with the rollup job's aggregate (one statement).

    Not through `store.maintenance.refresh_rollups` itself: its join expands every sample of a
    claimed vehicle before filtering on the hour, which took ~47 s per 500 vehicle-hours here.
    """
    with psycopg.connect(database_url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute(
            """
            INSERT INTO telemetry_hourly_rollup (vehicle_id, pid, bucket, min, max, sum, count)
            SELECT t.vehicle_id, kv.key, date_trunc('hour', t.ts), min(v.x), max(v.x), sum(v.x), count(*)
            FROM telemetry AS t
            CROSS JOIN LATERAL jsonb_each(t.pids) AS kv
            CROSS JOIN LATERAL (SELECT kv.value::text::float8 AS x) AS v
            WHERE t.ts >= %(a)s AND t.ts < %(b)s AND jsonb_typeof(kv.value) = 'number'
            GROUP BY t.vehicle_id, kv.key, date_trunc('hour', t.ts)
            ORDER BY 3, 1, 2
            """,
            _utc_day(day),
        )


def _utc_day(day: date) -> dict[str, datetime]:
    return {"a": datetime.combine(day, clock(0), UTC), "b": datetime.combine(day + timedelta(days=1), clock(0), UTC)}


def _add_vehicle_copies(conn: Connection, *, copies: int) -> None:
    """Register copies 1..copies-1 of the template cars (VIN digits 11-13 carry the copy)."""
    conn.execute(text("CREATE TABLE bench_copies (template_id int, vehicle_id int PRIMARY KEY, copy int)"))
    store_ids = list(conn.scalars(select(stores.c.id).order_by(stores.c.code)))
    for copy in range(1, copies):
        conn.execute(
            text("""
            INSERT INTO vehicles (store_id, vin, make, model, year, engine)
            SELECT :store, left(vin, 10) || lpad(CAST(:copy AS text), 3, '0') || right(vin, 4),
                   make, model, year, engine
            FROM vehicles WHERE id IN (SELECT vehicle_id FROM devices) ORDER BY id
            """),
            {"copy": copy, "store": store_ids[copy % len(store_ids)]},
        )
    conn.execute(
        text("""
        INSERT INTO bench_copies
        SELECT t.id, v.id, c.copy FROM devices d JOIN vehicles t ON t.id = d.vehicle_id
        CROSS JOIN generate_series(1, :last) AS c(copy)
        JOIN vehicles v ON v.vin = left(t.vin, 10) || lpad(CAST(c.copy AS text), 3, '0') || right(t.vin, 4)
        """),
        {"last": copies - 1},
    )


def _clone_day(database_url: str, day: date) -> None:
    """Copy one UTC day of the template's samples and rollup rows to every clone (one transaction)."""
    window = _utc_day(day)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            """
            INSERT INTO telemetry (ts, vehicle_id, device_id, seq, pids)
            SELECT t.ts, m.vehicle_id, t.device_id || '-' || m.copy, t.seq, t.pids
            FROM telemetry t JOIN bench_copies m ON m.template_id = t.vehicle_id
            WHERE t.ts >= %(a)s AND t.ts < %(b)s
            """,
            window,
        )
        conn.execute(
            """
            INSERT INTO telemetry_hourly_rollup (vehicle_id, pid, bucket, min, max, sum, count)
            SELECT m.vehicle_id, r.pid, r.bucket, r.min, r.max, r.sum, r.count
            FROM telemetry_hourly_rollup r JOIN bench_copies m ON m.template_id = r.vehicle_id
            WHERE r.bucket >= %(a)s AND r.bucket < %(b)s
            ORDER BY r.bucket, m.vehicle_id, r.pid
            """,
            window,
        )


def _vacuum(database_url: str) -> None:
    """Vacuum what the API reads and analyze everything.

    The raw samples are only analyzed: vacuuming tens of GB of fresh rows takes longer than loading
    them, and no measured route reads them (series of 1h and more come from the rollup). Autovacuum
    is off for them for the same reason, so it cannot start in the middle of a measurement.
    """
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) telemetry_hourly_rollup, vehicles, devices, stores, dtc_events")
        conn.execute("ANALYZE telemetry")


def vacuum_workflow(db: Engine) -> None:
    """Vacuum and analyze the small workflow tables after alerts and bookings were written."""
    with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) alerts, alert_transitions, bookings, technicians, bays, users"))


def fleet_facts(database_url: str, *, phases: dict[str, float]) -> FleetFacts:
    """Read the loaded fleet's size back (exact counts: they take a few seconds at 50 M rows)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            """
            SELECT (SELECT count(*) FROM vehicles), (SELECT count(*) FROM telemetry),
                   (SELECT count(*) FROM telemetry_hourly_rollup),
                   hypertable_size('telemetry'), hypertable_size('telemetry_hourly_rollup'),
                   (SELECT min(ts) FROM telemetry), (SELECT max(ts) FROM telemetry)
            """
        ).fetchone()
    assert row is not None
    return FleetFacts(row[0], row[1], row[2], row[3], row[4], row[5].date(), row[6].date(), phases)


def raise_alerts(db: Engine, *, per_store: int, seed: int = 5) -> None:
    """Give every store `per_store` live alerts (a fifth acknowledged) and half as many closed ones."""
    rng = random.Random(seed)
    with db.begin() as conn:
        ops = {m: op for op, modes in conn.execute(select(service_operations.c.op_code, service_operations.c.modes))
               for m in modes}  # fmt: skip
        for store_id in conn.scalars(select(stores.c.id)):
            fleet = list(conn.scalars(select(vehicles.c.id).where(vehicles.c.store_id == store_id)))
            pairs = rng.sample([(v, m) for v in fleet for m in FailureMode], min(len(fleet) * 7, per_store * 3 // 2))
            for index, (vehicle_id, mode) in enumerate(pairs):
                _raise_one(
                    conn, rng, store_id, vehicle_id, mode, ops.get(mode.value, "GEN-DIAG"), closed=index % 3 == 2
                )


def _raise_one(
    conn: Connection, rng: random.Random, store_id: int, vehicle_id: int, mode: FailureMode, op: str, *, closed: bool
) -> None:
    observed = datetime.now(UTC) - timedelta(hours=rng.uniform(1, 24 * 20))
    draft = AlertDraft(
        vehicle_id=vehicle_id,
        store_id=store_id,
        mode=mode,
        severity=rng.choices(list(Severity), weights=(2, 5, 1))[0],
        confidence=round(rng.uniform(0.55, 0.99), 3),
        observed_at=observed,
        days_to_failure=rng.choice([None, round(rng.uniform(1, 60), 1)]),
        evidence={"index": round(rng.uniform(2, 6), 2), "baseline_days": 30},
        operation=op,
        parts=(),
        model_version="bench",
    )
    alert_id = lifecycle.raise_alert(conn, draft).alert_id
    if alert_id is None:
        return
    if closed:
        lifecycle.transition(conn, alert_id, AlertState.DISMISSED, actor="bench", at=observed, reason="bench history")
    elif rng.random() < 0.2:
        lifecycle.transition(conn, alert_id, AlertState.ACKNOWLEDGED, actor="bench", at=observed)


def prepare_workshop(db: Engine, *, seed: int = 11) -> WorkshopFacts:
    """Give the first store its workshop (once) and two fresh weeks of confirmed bookings."""
    with db.begin() as conn:
        store_id = int(conn.execute(select(stores.c.id).where(stores.c.code == "BENCH-01")).scalar_one())
        if conn.scalar(select(technicians.c.id).where(technicians.c.store_id == store_id).limit(1)) is None:
            seed_workshop(
                conn, group_name=GROUP, store_code="BENCH-01", store_name="Bench store",
                technician_count=TECHNICIANS, bay_count=BAYS, stock_per_part=50, opens_at=OPENS, closes_at=CLOSES,
            )  # fmt: skip
        conn.execute(delete(bookings).where(bookings.c.store_id == store_id))
        rows, fill = _booking_rows(conn, store_id, random.Random(seed))
        if rows:
            conn.execute(insert(bookings), rows)
    return WorkshopFacts(store_id, len(rows), fill[0], fill[1])


def _booking_rows(
    conn: Connection, store_id: int, rng: random.Random
) -> tuple[list[dict[str, object]], tuple[float, float]]:
    zone = ZoneInfo(conn.execute(select(stores.c.timezone).where(stores.c.id == store_id)).scalar_one())
    ops = [(r.op_code, r.skill, r.labour_hours) for r in conn.execute(select(service_operations))]
    techs = [(r.id, set(r.skills)) for r in conn.execute(select(technicians).where(technicians.c.store_id == store_id))]
    bay_ids = list(conn.scalars(select(bays.c.id).where(bays.c.store_id == store_id)))
    fleet = list(conn.scalars(select(vehicles.c.id).where(vehicles.c.store_id == store_id)))
    open_days = set(conn.scalars(select(opening_hours.c.weekday).where(opening_hours.c.store_id == store_id)))
    today = datetime.now(zone).date()
    rows: list[dict[str, object]] = []
    booked_minutes, open_minutes = 0, 0
    for offset in range(BOOKING_DAYS):  # today (the search starts now) and the next 13 days
        day = today + timedelta(days=offset)
        if day.isoweekday() not in open_days:
            continue
        opens, closes = datetime.combine(day, OPENS, zone), datetime.combine(day, CLOSES, zone)
        open_minutes += int((closes - opens).total_seconds() // 60) * len(techs)
        bay_busy: dict[int, list[tuple[datetime, datetime]]] = {b: [] for b in bay_ids}
        for tech_id, skills in techs:
            cursor = opens + timedelta(minutes=rng.choice([0, 0, 30, 60]))
            while True:
                op_code, _skill, hours = rng.choice([o for o in ops if o[1] in skills])
                ends = cursor + timedelta(minutes=30 * math.ceil(hours * 2))
                if ends > closes:
                    break
                bay = next((b for b, busy in bay_busy.items() if all(e <= cursor or s >= ends for s, e in busy)), None)
                if bay is not None:
                    bay_busy[bay].append((cursor, ends))
                    booked_minutes += int((ends - cursor).total_seconds() // 60)
                    rows.append(_booking(store_id, rng.choice(fleet), op_code, tech_id, bay, cursor, ends))
                    cursor = ends
                cursor += timedelta(minutes=rng.choice([0, 0, 30, 30, 60]))
    bay_minutes = open_minutes / max(len(techs), 1) * len(bay_ids)
    return rows, (booked_minutes / max(open_minutes, 1), booked_minutes / max(bay_minutes, 1))


def _booking(
    store_id: int, vehicle_id: int, op_code: str, tech_id: int, bay_id: int, starts: datetime, ends: datetime
) -> dict[str, object]:
    return {
        "store_id": store_id,
        "vehicle_id": vehicle_id,
        "op_code": op_code,
        "technician_id": tech_id,
        "bay_id": bay_id,
        "starts_at": starts,
        "ends_at": ends,
        "state": "confirmed",
        "created_by": "bench",
    }


def live_alert_ids(db: Engine, *, store_id: int) -> list[int]:
    """Return the store's live alerts (what the slot proposal is asked for)."""
    with db.connect() as conn:
        live = [s.value for s in (AlertState.OPEN, AlertState.ACKNOWLEDGED)]
        query = select(alerts.c.id).where(alerts.c.store_id == store_id, alerts.c.state.in_(live)).order_by(alerts.c.id)
        return list(conn.scalars(query))
