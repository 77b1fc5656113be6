"""Prediction against the database: compute and keep daily features, score them, raise alerts.

Thin I/O around `predict.engine`: `replay(...)` walks history one data day at a time as if live;
`score_latest(...)` (the running service) re-scores the newest days as data lands. Features of every
vehicle-day are kept in `vehicle_day_features` (charts and the next run read them back). Each day's
alerts are written in one transaction; nothing is marked scored before it is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects.postgresql import insert

from predict import alerts, metrics, outcomes
from predict.catalog import FailureMode
from predict.detect import BASELINE_SPAN_DAYS
from predict.dtc_kb import Severity
from predict.engine import Cohort, Finding, ScoringError, operation_for
from predict.engine import Engine as ScoringEngine
from predict.features import DayInputs, Quality, VehicleDay, data_days, day_inputs, load_days
from predict.model import Model
from predict.settings import PredictSettings
from store.tables import alerts as alerts_table
from store.tables import prediction_calibration, vehicle_day_features, vehicles

log = logging.getLogger(__name__)
DayHook = Callable[[Connection, date], None]


@dataclass
class ReplayStats:
    days: int = 0
    vehicle_days: int = 0
    findings: int = 0
    opened: int = 0
    updated: int = 0
    suppressed: int = 0
    garbage_vehicles: set[int] = field(default_factory=set)
    scoring_errors: list[ScoringError] = field(default_factory=list)  # vehicle-modes left unscored (logged)
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase (live cycles)


def repairs(conn: Connection) -> dict[tuple[int, FailureMode], date]:
    """The latest confirmed repair per vehicle and mode (data time): baselines restart after it."""
    query = (
        select(alerts_table.c.vehicle_id, alerts_table.c.mode, func.max(alerts_table.c.closed_at))
        .where(alerts_table.c.outcome == alerts.Outcome.CONFIRMED.value)
        .group_by(alerts_table.c.vehicle_id, alerts_table.c.mode)
    )
    return {(v, FailureMode(m)): closed.date() for v, m, closed in conn.execute(query) if closed is not None}


def store_of_vehicles(conn: Connection) -> dict[int, int]:
    return {r.id: r.store_id for r in conn.execute(select(vehicles.c.id, vehicles.c.store_id))}


def cohort_key(store_id: int, make: str, model: str, engine: str) -> Cohort:
    """Cars that should read alike: one make, model and engine, in one store (one climate). Names are
    compared case- and space-insensitively (a DMS export and a hand-typed record of the same car)."""
    return (store_id, *(" ".join(name.split()).casefold() for name in (make, model, engine)))


def cohort_of_vehicles(conn: Connection) -> dict[int, Cohort]:
    query = select(vehicles.c.id, vehicles.c.store_id, vehicles.c.make, vehicles.c.model, vehicles.c.engine)
    return {r.id: cohort_key(r.store_id, r.make, r.model, r.engine) for r in conn.execute(query)}


SAVE_CHUNK = 2000  # rows per INSERT (PostgreSQL takes at most 65,535 parameters)


def save_days(conn: Connection, days: list[VehicleDay]) -> None:
    """Upsert the features of these vehicle-days."""
    for first in range(0, len(days), SAVE_CHUNK):
        rows = [
            {"vehicle_id": d.vehicle_id, "day": d.day, "features": _features_json(d), "quality": d.quality.value}
            for d in days[first : first + SAVE_CHUNK]
        ]
        stmt = insert(vehicle_day_features).values(rows)
        excluded = stmt.excluded
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["vehicle_id", "day"],
                set_={"features": excluded.features, "quality": excluded.quality, "computed_at": func.now()},
            )
        )


def _features_json(day: VehicleDay) -> dict[str, Any]:
    return {**day.features, "dtc_pending": list(day.dtc_pending), "dtc_stored": list(day.dtc_stored)}


def stored_days(conn: Connection, *, first: date, last: date) -> list[VehicleDay]:
    """Read kept vehicle-days back (the history a live run scores against)."""
    query = select(vehicle_day_features).where(vehicle_day_features.c.day.between(first, last))
    out = []
    for row in conn.execute(query.order_by(vehicle_day_features.c.day)):
        features = dict(row.features)
        pending, stored = features.pop("dtc_pending", []), features.pop("dtc_stored", [])
        out.append(VehicleDay(row.vehicle_id, row.day, features, Quality(row.quality), tuple(pending), tuple(stored)))
    return out


def publish(conn: Connection, finding: Finding, *, store_id: int, model: Model) -> alerts.RaiseResult:
    """Raise (or fold into the live one, or suppress) the alert for a finding."""
    operation, parts = operation_for(finding.mode)
    draft = alerts.AlertDraft(
        vehicle_id=finding.vehicle_id,
        store_id=store_id,
        mode=finding.mode,
        severity=Severity(finding.severity),
        confidence=finding.confidence,
        observed_at=finding.observed_at,
        days_to_failure=finding.days_to_failure,
        evidence=finding.evidence,
        operation=operation,
        parts=parts,
        model_version=model.version,
        held=finding.held,
    )
    return alerts.raise_alert(conn, draft)


def save_calibrations(conn: Connection, engine: ScoringEngine, *, day: date) -> None:
    """Keep each store's threshold per mode as the budget set it on `day` (what the API shows)."""
    rows = [
        {"store_id": store, "mode": mode.value, "day": day, "model_version": engine.model.version,
         "threshold_z": cal.threshold, "model_threshold_z": cal.model_threshold,
         "budget_threshold_z": cal.budget_threshold, "store_cars": cal.store_cars, "fleet_cars": cal.fleet_cars,
         "budget_per_1000_vm": engine.budget.budget_per_1000_vm if engine.budget else 0.0}
        for (store, mode), cal in engine.calibrations.items()
        if store >= 0
    ]  # fmt: skip
    if not rows:
        return
    stmt = insert(prediction_calibration).values(rows)
    keep = ("day", "model_version", "threshold_z", "model_threshold_z", "budget_threshold_z", "store_cars",
            "fleet_cars", "budget_per_1000_vm")  # fmt: skip
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["store_id", "mode"],
            set_={**{k: stmt.excluded[k] for k in keep}, "updated_at": func.now()},
        )
    )


def replay(
    db: Engine,
    *,
    first: date,
    last: date,
    model: Model,
    settings: PredictSettings | None = None,
    after_day: DayHook | None = None,
    progress: Callable[[date], None] | None = None,
) -> ReplayStats:
    """Walk [first, last] one data day at a time: features, scores, alerts; then `after_day` (the
    evaluation's workshop resolves alerts there). History before `first` seeds the baselines."""
    stats = ReplayStats()
    with db.begin() as conn:
        store_of = store_of_vehicles(conn)
        cohort_of = cohort_of_vehicles(conn)
        days = load_days(conn, first=first - timedelta(days=BASELINE_SPAN_DAYS), last=last)
        save_days(conn, days)
    engine = ScoringEngine.configured(model, store_of, cohort_of=cohort_of, settings=settings or PredictSettings())
    for day, vdays in data_days(days, last=last):
        for vday in vdays:
            engine.add(vday)
        if day >= first:
            _score_and_publish(db, engine, day, model, store_of, stats, after_day)
        if progress:
            progress(day)
    stats.vehicle_days = len(days)
    return stats


def _score_and_publish(
    db: Engine,
    engine: ScoringEngine,
    day: date,
    model: Model,
    store_of: dict[int, int],
    stats: ReplayStats,
    after_day: DayHook | None,
) -> None:
    with db.connect() as conn:
        engine.repaired = repairs(conn)
        engine.outcomes = outcomes.live_precision(conn, model_version=model.version)
    findings = engine.score_day(day)
    for error in engine.take_errors():
        metrics.SCORING_ERRORS.labels(mode=error.mode.value).inc()
        stats.scoring_errors.append(error)
    stats.days += 1
    stats.findings += len(findings)
    stats.garbage_vehicles.update(engine.data_quality_issues(day))
    with db.begin() as conn:
        for finding in findings:
            result = publish(conn, finding, store_id=store_of[finding.vehicle_id], model=model)
            if result.outcome is alerts.RaiseOutcome.OPENED:
                stats.opened += 1
            elif result.outcome is alerts.RaiseOutcome.UPDATED:
                stats.updated += 1
            else:
                stats.suppressed += 1
        save_calibrations(conn, engine, day=day)
        if after_day:
            after_day(conn, day)


@dataclass
class LiveScorer:
    """The running service's state: the scoring engine stays warm between cycles.

    The first cycle reads the kept history (150 days of daily features) once; every cycle computes the
    features of today from the raw samples and keeps them, and those of yesterday for the vehicles whose
    samples or DTC reports for it changed since they were last computed (late data after an offline
    gap, a trip that ran past midnight; `day_inputs`): all of them on the first cycle. Today is scored,
    and yesterday too when any of its features changed. New vehicles are picked up at each cycle."""

    model: Model
    settings: PredictSettings = field(default_factory=PredictSettings)
    engine: ScoringEngine | None = None
    inputs: dict[date, DayInputs] = field(default_factory=dict)  # what each day's kept features were computed from

    def cycle(self, db: Engine, *, today: date) -> ReplayStats:
        stats = ReplayStats()
        clock = _PhaseClock()
        yesterday = today - timedelta(days=1)
        with db.begin() as conn:
            store_of = store_of_vehicles(conn)
            cohort_of = cohort_of_vehicles(conn)
            now = {day: day_inputs(conn, day=day) for day in (yesterday, today)}  # before the features: see below
            clock.lap("inputs")
            late = self._changed(yesterday, now[yesterday])  # None: every vehicle
            redo_yesterday = late is None or bool(late)
            fresh = load_days(conn, first=today, last=today)
            if redo_yesterday:
                fresh += load_days(conn, first=yesterday, last=yesterday, vehicle_ids=late)
            clock.lap("features")
            save_days(conn, fresh)
            clock.lap("keep")
            history = [] if self.engine else stored_days(conn, first=today - timedelta(BASELINE_SPAN_DAYS), last=today)
            clock.lap("history")
        # counted before the features were computed: a row that landed in between is counted next time and
        # its day computed again, never the other way round
        self.inputs = now
        warm = self.engine is None
        if self.engine is None:
            self.engine = ScoringEngine.configured(self.model, store_of, cohort_of=cohort_of, settings=self.settings)
        self.engine.store_of = store_of
        self.engine.cohort_of = cohort_of
        for vday in [*history, *fresh]:
            self.engine.add(vday)
        if warm:  # the budget needs the last weeks' scores: a restart must not fall back to the model's thresholds
            self.engine.warm_budget(first=yesterday - timedelta(days=self.engine.budget_window_days), last=yesterday)
        clock.lap("engine")
        for day in (yesterday, today) if redo_yesterday else (today,):
            _score_and_publish(db, self.engine, day, self.model, store_of, stats, None)
        clock.lap("score")
        stats.vehicle_days = len(fresh)
        stats.phases = clock.laps
        log.info("cycle for %s: %d vehicle-days; %s", today, len(fresh), clock)
        return stats

    def _changed(self, day: date, now: DayInputs) -> list[int] | None:
        """The vehicles whose inputs for `day` differ from when its features were last computed; None when
        they never were by this process (its first cycle, or a day it has not seen as today)."""
        before = self.inputs.get(day)
        if before is None:
            return None
        return sorted(v for v, counts in now.items() if before.get(v) != counts)


class _PhaseClock:
    """Seconds spent per phase of a cycle (logged, and read by `pitcall bench predict`)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._mark = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.laps[phase] = self.laps.get(phase, 0.0) + now - self._mark
        self._mark = now

    def __str__(self) -> str:
        return ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in self.laps.items())


def score_latest(db: Engine, *, today: date, model: Model, settings: PredictSettings | None = None) -> ReplayStats:
    """One cold cycle of the running service (read history, re-score the last two data days)."""
    return LiveScorer(model, settings or PredictSettings()).cycle(db, today=today)
