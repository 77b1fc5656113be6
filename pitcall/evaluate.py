"""`pitcall eval`: a seeded fleet through the real broker, ingest and TimescaleDB, then `predict replay`,
scored against the ground truth beside two baselines.

Uses its own database (`<database>_eval`, recreated each run), its own topic prefix and share group on
the configured broker, and a workshop that acts on alerts in data time: an alert whose car really has
the fault is booked and resolved as confirmed when the part is replaced; any other alert is resolved
as not found after a few days (the technician checked the car). Those outcomes are the labels
`pitcall predict train` reads.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import Connection, Engine, func, select, text

from pitcall.local_services import IngestProcess
from pitcall.settings import ToolSettings
from predict import alerts
from predict.backtest import workshop_step
from predict.catalog import FailureMode
from predict.evaluation import (
    Fault,
    ModeScore,
    RaisedAlert,
    fixed_threshold_baseline,
    oracle_alerts,
    reactive_baseline,
    score_alerts,
)
from predict.model import Model
from predict.service import replay, stored_days
from simulators.bulk_load import register
from simulators.delivery import Delivered, DeliveryPlan
from simulators.history import Cadence
from simulators.outputs import HistoryStats, MqttSink, run_history
from simulators.scenario import FleetPlan, SimCar, build_fleet, ground_truth
from store import migrate
from store.db import make_engine
from store.provision_db import ensure_database
from store.service_tables import outbox
from store.tables import alerts as alerts_table
from store.tables import telemetry

console = Console(stderr=True)
WORKSHOP = "eval-workshop"
ORACLE_LEVEL = 0.2  # a fault a fifth of the way to failure: what an excellent detector might see


@dataclass(frozen=True)
class EvalResult:
    plan: FleetPlan
    pitcall: dict[FailureMode | None, ModeScore]
    reactive: dict[FailureMode | None, ModeScore]
    fixed: dict[FailureMode | None, ModeScore]
    ceiling: dict[FailureMode | None, ModeScore]  # the oracle at each fault's first reading: no method beats it
    oracle: dict[FailureMode | None, ModeScore]  # the oracle once each fault is ORACLE_LEVEL severe
    history: HistoryStats
    timings: dict[str, float]
    model_version: str


def eval_database_url(database_url: str) -> str:
    base, _, name = database_url.rpartition("/")
    return f"{base}/{name.split('?')[0]}_eval"


def recreate_database(database_url: str) -> None:
    base, _, name = database_url.rpartition("/")
    admin = make_engine(f"{base}/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    ensure_database(database_url)


def run_eval(
    settings: ToolSettings,
    plan: FleetPlan,
    *,
    model: Model,
    cadence: Cadence,
    workers: int = 2,
    workshop_until: date | None = None,
) -> EvalResult:
    """Run the whole evaluation; see the module docstring. The simulated workshop acts on alerts up to
    `workshop_until` (default: the whole run); later alerts are left live, like a store's current queue."""
    url = eval_database_url(settings.database_url)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    recreate_database(url)
    migrate.upgrade(url)
    cars = build_fleet(plan)
    ids = register_stores(url, plan, cars)
    timings["setup_s"] = time.perf_counter() - started
    db = make_engine(url)
    mark = time.perf_counter()
    history = through_ingest(settings, url, plan, cadence, workers, db)
    timings["simulate_and_ingest_s"] = time.perf_counter() - mark
    truth = [(Fault(ids[car.device_id], f.mode, f.onset, f.failure), f.severity) for car in cars for f in car.faults]
    faults = [fault for fault, _ in truth]
    repaired = {(ids[car.device_id], f.mode): f.repaired or f.failure for car in cars for f in car.faults}
    mark = time.perf_counter()
    last = plan.start + timedelta(days=plan.days - 1)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("predict replay", total=plan.days)
        replay(
            db,
            first=plan.start,
            last=last,
            model=model,
            after_day=lambda conn, day: (
                workshop(conn, day, faults, repaired) if workshop_until is None or day <= workshop_until else None
            ),
            progress=lambda _day: bar.advance(task),
        )
    timings["replay_s"] = time.perf_counter() - mark
    with db.connect() as conn:
        raised = raised_alerts(conn)
        days = stored_days(conn, first=plan.start, last=last)
    timings["total_s"] = time.perf_counter() - started
    db.dispose()
    score = {"vehicles": plan.vehicles, "days": plan.days}
    return EvalResult(
        plan=plan,
        pitcall=score_alerts(raised, faults, **score),
        reactive=score_alerts(reactive_baseline(days), faults, **score),
        fixed=score_alerts(fixed_threshold_baseline(days), faults, **score),
        ceiling=score_alerts(oracle_alerts(days, truth), faults, **score),
        oracle=score_alerts(oracle_alerts(days, truth, level=ORACLE_LEVEL), faults, **score),
        history=history,
        timings=timings,
        model_version=model.version,
    )


def register_stores(url: str, plan: FleetPlan, cars: list[SimCar]) -> dict[str, int]:
    """Register the fleet: one store for the classic fleet (as before profiles existed), else one store per
    city, as a dealer group has them (a store's cars share its climate). Return vehicle id by device id."""
    if plan.ranges is None:
        return register(url, cars, store_code=f"EVAL-{plan.seed}", store_name=f"Evaluation store (seed {plan.seed})")
    ids: dict[str, int] = {}
    for city in sorted({car.region.name for car in cars}):
        ids |= register(url, [c for c in cars if c.region.name == city], store_code=f"EVAL-{plan.seed}-{city}",
                        store_name=f"Evaluation store {city} (seed {plan.seed}, {plan.profile})")  # fmt: skip
    return ids


def raised_alerts(conn: Connection) -> list[RaisedAlert]:
    """Every alert that reached the queue, as first raised: data time and the days-to-failure estimate of its
    `alert.raised` event (the alert row holds the latest estimate; the customer was told the first). Alerts
    kept on the watch list of a held mode never reached the queue (`watched_alerts`)."""
    first_estimate = outbox.c.payload["days_to_failure"].as_float()
    first_confidence = outbox.c.payload["confidence"].as_float()
    query = select(
        alerts_table.c.vehicle_id,
        alerts_table.c.mode,
        alerts_table.c.first_observed_at,
        first_estimate,
        first_confidence,
    ).join(outbox, (outbox.c.subject_id == alerts_table.c.id) & (outbox.c.event_type == "alert.raised"))
    return [RaisedAlert(v, FailureMode(m), at, eta, c) for v, m, at, eta, c in conn.execute(query)]


def watched_alerts(conn: Connection) -> int:
    """How many alerts went to the watch list of a held mode (and stayed there)."""
    return conn.scalar(select(func.count()).select_from(alerts_table).where(alerts_table.c.state == "watch")) or 0


def through_ingest(
    settings: ToolSettings, url: str, plan: FleetPlan, cadence: Cadence, workers: int, db: Engine
) -> HistoryStats:
    """Publish the plan's history over MQTT (paced) into a real ingest process; return when all is stored."""
    prefix = f"pitcall-eval-{os.getpid()}/v1"
    max_age_days = (datetime.now(UTC).date() - plan.start).days + 5
    with _ingest(settings, url, prefix=prefix, max_age_days=max_age_days) as ingest:
        sink = MqttSink.connect(
            host=settings.mqtt_host,
            port=settings.mqtt_port,
            client_id=f"pitcall-eval-sim-{os.getpid()}",
            prefix=prefix,
        )
        paced = PacedSink(sink, ingest)
        stats = run_history(plan, cadence, paced, delivery=DeliveryPlan(), workers=workers, progress=True)
        _wait_until_stored(db, expected=stats.samples)
    return stats


class PacedSink:
    """Hold the publisher back while ingest is behind, so the broker's per-session queue never overflows.

    Mosquitto queues at most `max_queued_messages` (1,000 by default) for a subscriber beyond its
    in-flight window and drops the rest; a dongle fleet never publishes months in minutes, a history
    run does. The gap between published and received messages is kept under `max_gap`."""

    def __init__(self, sink: MqttSink, ingest: IngestProcess, *, max_gap: int = 1500, check_every: int = 250) -> None:
        self.sink, self.ingest, self.max_gap, self.check_every = sink, ingest, max_gap, check_every
        self.sent = 0

    def send(self, item: Delivered) -> None:
        self.sink.send(item)
        self.sent += 1
        if self.sent % self.check_every == 0:
            while self.sent - (self.ingest.metric("pitcall_ingest_messages_received_total") or 0.0) > self.max_gap:
                time.sleep(0.02)

    def close(self) -> None:
        self.sink.close()


@contextmanager
def _ingest(settings: ToolSettings, url: str, *, prefix: str, max_age_days: int) -> Iterator[IngestProcess]:
    with tempfile.TemporaryDirectory(prefix="pitcall-eval-") as logs:
        ingest = IngestProcess(
            db_url=url,
            mqtt_port=settings.mqtt_port,
            log_dir=Path(logs),
            prefix=prefix,
            client_id=f"pitcall-eval-ingest-{os.getpid()}",
            extra_env={
                "INGEST_MQTT_HOST": settings.mqtt_host,
                "INGEST_SHARE_GROUP": f"pitcall-eval-{os.getpid()}",
                "INGEST_MAX_SAMPLE_AGE": f"P{max_age_days}D",
            },
        )
        ingest.start()
        try:
            yield ingest
        finally:
            ingest.terminate()


def _wait_until_stored(db: Engine, *, expected: int, quiet_s: float = 20.0) -> None:
    """Wait until the telemetry table holds every generated sample (or stops growing for `quiet_s`)."""
    last, last_change = -1, time.monotonic()
    while True:
        with db.connect() as conn:
            count = conn.scalar(select(func.count()).select_from(telemetry)) or 0
        if count >= expected:
            return
        if count != last:
            last, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > quiet_s:
            console.print(f"[yellow]ingest stored {count:,} of {expected:,} samples; going on[/yellow]")
            return
        time.sleep(1.0)


def workshop(
    conn: Connection, day: date, faults: list[Fault], repaired: dict[tuple[int, FailureMode], datetime]
) -> None:
    """Act on live alerts at the end of data day `day` like a service department would (`workshop_step`)."""
    now = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
    for alert in conn.execute(select(alerts_table).where(alerts_table.c.state.in_(sorted(alerts.LIVE_STATES)))):
        mode = FailureMode(alert.mode)
        action = workshop_step(
            state=alerts.AlertState(alert.state),
            first_observed_at=alert.first_observed_at,
            now=now,
            faults=[f for f in faults if f.vehicle_id == alert.vehicle_id and f.mode is mode],
            repaired_at=repaired.get((alert.vehicle_id, mode)),
        )
        if action is not None:
            state, outcome = action
            alerts.transition(conn, alert.id, state, actor=WORKSHOP, at=now, outcome=outcome)


def truth_json(cars: list[SimCar]) -> str:
    return json.dumps(ground_truth(cars), indent=2)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table_rows(result: EvalResult) -> list[list[str]]:
    """One row per mode (and overall) per method: the published table."""
    rows = []
    for mode in [*FailureMode, None]:
        for method, scores in (("pitcall", result.pitcall), ("reactive DTC", result.reactive),
                               ("fixed threshold", result.fixed), ("oracle: first reading", result.ceiling),
                               (f"oracle: severity {ORACLE_LEVEL:g}", result.oracle)):  # fmt: skip
            s = scores[mode]
            rows.append([
                mode.value if mode else "all modes", method, str(s.alerts), str(s.faults), str(s.caught),
                _fmt(s.precision), _fmt(s.recall), _fmt(s.median_lead, 1), _fmt(s.p10_lead, 1),
                f"{s.false_per_1000_vm:.1f}", _fmt(s.median_eta_error, 1),
            ])  # fmt: skip
    return rows


HEADER = ["mode", "method", "alerts", "failures", "caught", "precision", "recall", "median lead d", "P10 lead d",
          "false /1000 veh-months", "median ETA error d"]  # fmt: skip


def markdown(result: EvalResult) -> str:
    plan = result.plan
    lines = [
        f"Seed {plan.seed} ({plan.profile} profile), {plan.vehicles} vehicles x {plan.days} days from {plan.start} "
        f"(model {result.model_version}); {result.history.summary()}",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
        *("| " + " | ".join(row) + " |" for row in table_rows(result)),
        "",
        "Timings: " + ", ".join(f"{k} {v:.0f}" for k, v in result.timings.items()),
    ]
    return "\n".join(lines) + "\n"
