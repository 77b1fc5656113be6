"""Training from labelled history: per-mode covariate slopes, alert thresholds, failure level and the prior
precision of each mode's alerts, saved as a versioned model (a candidate until `pitcall predict promote`)
with its data range and metrics.

Labels come from ground truth (simulated fleets) or from the alert outcomes the service department
recorded (`predict.alerts.labels`: confirmed = the fault was there, not found / dismissed = it was not).
Thresholds are set on the healthy cars' 30-day maxima of the alert statistic, as the engine's false-alert
budget sets them live (`predict.budget.budget_level`: a Gumbel law through their median and upper
quantile, at the budget's rate), never below `MIN_THRESHOLD`. The highest z a healthy car reached is not
the threshold: a fleet's few cars with a second kind of day (a trailer, a smart alternator) put it
wherever they happen to be, and a fleet the model never saw has its own such cars; the budget raises a
store's threshold live where its cars wander more. The metrics report both.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from predict.budget import DEFAULT_BUDGET_PER_1000_VM, WINDOW_DAYS, budget_level
from predict.catalog import FailureMode
from predict.detect import ModeParams, Point, adjusted
from predict.engine import Cohort, Engine
from predict.evaluation import Fault, score_alerts
from predict.features import Quality, VehicleDay, data_days
from predict.model import Model
from predict.modes import INDEXES

MIN_THRESHOLD = 3.0
FLEET_ID_STRIDE = 1_000_000_000  # vehicle and store ids of the n-th training fleet are shifted by n strides


@dataclass(frozen=True)
class TrainingFleet:
    """One fleet's kept features and ground truth, as read from its database."""

    days: list[VehicleDay]
    faults: list[Fault]
    store_of: dict[int, int]
    cohort_of: dict[int, Cohort]


def merge_fleets(fleets: list[TrainingFleet]) -> TrainingFleet:
    """Several fleets (each from its own database, so their ids overlap) as one, ids shifted apart: the
    n-th fleet's vehicles and stores by n x `FLEET_ID_STRIDE`. Training never reads ids for anything else."""
    days: list[VehicleDay] = []
    faults: list[Fault] = []
    store_of: dict[int, int] = {}
    cohort_of: dict[int, Cohort] = {}
    for n, fleet in enumerate(fleets):
        shift = n * FLEET_ID_STRIDE
        days += [replace(d, vehicle_id=d.vehicle_id + shift) for d in fleet.days]
        faults += [replace(f, vehicle_id=f.vehicle_id + shift) for f in fleet.faults]
        store_of |= {v + shift: s + shift for v, s in fleet.store_of.items()}
        cohort_of |= {v + shift: (fleet.store_of[v] + shift, *c[1:]) for v, c in fleet.cohort_of.items()}  # store first
    return TrainingFleet(days, faults, store_of, cohort_of)


@dataclass(frozen=True, slots=True)
class Example:
    vehicle_id: int
    mode: FailureMode
    day: date
    z: float
    trend: float
    dtc: bool
    positive: bool  # inside a fault window (onset - 3 d .. failure)
    healthy: bool  # no fault of this mode anywhere near
    baseline_from: str = "own"


def _window(faults: list[Fault]) -> dict[tuple[int, FailureMode], list[Fault]]:
    out: dict[tuple[int, FailureMode], list[Fault]] = defaultdict(list)
    for fault in faults:
        out[(fault.vehicle_id, fault.mode)].append(fault)
    return out


def _healthy_points(days: list[VehicleDay], faults: list[Fault], mode: FailureMode) -> Iterator[tuple[int, Point]]:
    """(vehicle, index point) of every valid day of the cars without a fault of `mode`."""
    faulty = {f.vehicle_id for f in faults if f.mode is mode}
    spec = INDEXES[mode]
    for vday in days:
        if vday.vehicle_id in faulty or vday.quality is Quality.GARBAGE:
            continue
        if (index := spec.index(vday.features)) is not None:
            yield vday.vehicle_id, Point(vday.day, index, spec.covariate(vday.features) if spec.covariate else None)


def fit_slopes(days: list[VehicleDay], faults: list[Fault]) -> dict[FailureMode, tuple[float, float]]:
    """Pooled within-vehicle slope of each index on its covariate over healthy days, and the mean covariate."""
    out = {}
    for mode, spec in INDEXES.items():
        if spec.covariate is None:
            continue
        per_vehicle: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for vehicle_id, point in _healthy_points(days, faults, mode):
            if point.covariate is not None:
                per_vehicle[vehicle_id].append((point.covariate, point.index))
        xs, ys = [], []
        for pairs in per_vehicle.values():
            if len(pairs) >= 10:
                mx, my = statistics.fmean(p[0] for p in pairs), statistics.fmean(p[1] for p in pairs)
                xs += [p[0] - mx for p in pairs]
                ys += [p[1] - my for p in pairs]
        denominator = sum(x * x for x in xs)
        slope = sum(x * y for x, y in zip(xs, ys, strict=True)) / denominator if denominator else 0.0
        covs = [c for pairs in per_vehicle.values() for c, _ in pairs]
        out[mode] = (slope, statistics.fmean(covs) if covs else 0.0)
    return out


def fleet_priors(
    days: list[VehicleDay], faults: list[Fault], params: dict[FailureMode, ModeParams]
) -> dict[FailureMode, tuple[float, float]]:
    """For the indexes that compare a vehicle with itself within the day: the healthy fleet's adjusted index,
    median and robust spread (1.4826 x MAD) over the vehicle-days of cars without a fault of that mode."""
    out = {}
    for mode, spec in INDEXES.items():
        if not spec.fleet_prior:
            continue
        values = [adjusted(point, params[mode]) for _, point in _healthy_points(days, faults, mode)]
        if len(values) >= 100:
            centre = statistics.median(values)
            out[mode] = (centre, 1.4826 * statistics.median(abs(v - centre) for v in values))
    return out


def examples(
    days: list[VehicleDay],
    faults: list[Fault],
    model: Model,
    store_of: dict[int, int],
    cohort_of: dict[int, Cohort] | None = None,
) -> list[Example]:
    """Replay the days through the engine and label every (vehicle, mode, day) score."""
    windows = _window(faults)
    engine = Engine(model, store_of, cohort_of=cohort_of or {}, budget=None)
    out = []
    for day, vdays in data_days(days, last=max((d.day for d in days), default=date.min)):
        for vday in vdays:
            engine.add(vday)
        at = datetime.combine(day, time(12), UTC)
        for (vehicle_id, mode), (z, s) in engine.all_scores(day).items():
            mode_faults = windows.get((vehicle_id, mode), [])
            positive = any(f.onset - timedelta(days=3) <= at <= f.failure for f in mode_faults)
            healthy = not any(f.onset - timedelta(days=10) <= at <= f.failure + timedelta(days=10) for f in mode_faults)
            pending, stored = engine.confirming_dtcs(vehicle_id, mode, day)
            z = engine.alert_statistic(mode, s, z)  # the threshold's scale; capped below half if not persistent
            out.append(
                Example(vehicle_id, mode, day, z, s.trend_per_day or 0.0, bool(pending or stored), positive, healthy,
                        s.baseline_from)
            )  # fmt: skip
    return out


def window_maxima(rows: list[Example], *, window_days: int = WINDOW_DAYS) -> list[float]:
    """Each car's largest z in each `window_days` of its scored days (the statistic the budget reads)."""
    by_window: dict[tuple[int, int], float] = {}
    for e in rows:
        key = (e.vehicle_id, e.day.toordinal() // window_days)
        by_window[key] = max(by_window.get(key, e.z), e.z)
    return list(by_window.values())


def train(
    days: list[VehicleDay],
    faults: list[Fault],
    store_of: dict[int, int],
    *,
    version: str,
    data_range: tuple[date, date],
    cohort_of: dict[int, Cohort] | None = None,
    budget_per_1000_vm: float = DEFAULT_BUDGET_PER_1000_VM,
) -> Model:
    """Fit a model; see the module docstring."""
    slopes = fit_slopes(days, faults)
    params = {m: ModeParams(slope=slopes.get(m, (0.0, 0.0))[0], covariate_ref=slopes.get(m, (0.0, 0.0))[1])
              for m in FailureMode}  # fmt: skip
    for mode, (centre, spread) in fleet_priors(days, faults, params).items():
        params[mode] = replace(params[mode], prior_centre=round(centre, 4), prior_scale=round(spread, 4))
    labelled = examples(days, faults, Model(version, params), store_of, cohort_of)
    metrics: dict[str, object] = {}
    for mode in FailureMode:
        rows = [e for e in labelled if e.mode is mode]
        healthy = sorted(e.z for e in rows if e.healthy and e.baseline_from != "cohort")
        healthy_cohort = [e.z for e in rows if e.healthy and e.baseline_from == "cohort"]
        level = budget_level(window_maxima([e for e in rows if e.healthy]), budget_per_1000_vm=budget_per_1000_vm)
        threshold = max(MIN_THRESHOLD, level if level is not None else MIN_THRESHOLD)
        at_failure = [e.z for e in rows if e.positive and e.z >= threshold]
        failure_z = max(2 * threshold, statistics.median(at_failure) * 1.5) if at_failure else 3 * threshold
        params[mode] = replace(params[mode], threshold=round(threshold, 3), failure_z=round(failure_z, 3))
        metrics[mode.value] = {
            "healthy_vehicle_days": len(healthy),
            "healthy_z_q999": round(float(np.quantile(healthy, 0.999)), 3) if healthy else None,
            "healthy_z_max": round(healthy[-1], 3) if healthy else None,
            "healthy_budget_level": None if level is None else round(level, 3),
            "healthy_cohort_vehicle_days": len(healthy_cohort),
            "healthy_cohort_z_max": round(max(healthy_cohort), 3) if healthy_cohort else None,
            "positive_vehicle_days": sum(e.positive for e in rows),
            "positive_days_above_threshold": sum(e.positive and e.z >= threshold for e in rows),
        }
    candidate = Model(version, params)
    for mode, precision in backtest_precision(candidate, days, faults, store_of, cohort_of or {}).items():
        params[mode] = replace(params[mode], prior_precision=precision)
    return Model(
        version=version,
        params=params,
        trained_on={
            "from": data_range[0].isoformat(),
            "to": data_range[1].isoformat(),
            "vehicles": len({d.vehicle_id for d in days}),
            "faults": len(faults),
        },
        metrics=metrics,
    )


def backtest_precision(
    model: Model, days: list[VehicleDay], faults: list[Fault], store_of: dict[int, int], cohort_of: dict[int, Cohort]
) -> dict[FailureMode, float]:
    """Per mode, the share of the model's alerts that were real in a backtest of these fleets (each part
    replaced at its failure), as a Beta(1, 1) posterior mean: the prior of the confidence an alert states."""
    from predict.backtest import backtest  # the backtest replays with the engine training just parameterised

    if not days:
        return {}
    first, last = min(d.day for d in days), max(d.day for d in days)
    repaired = {(f.vehicle_id, f.mode): f.failure for f in faults}
    run = backtest(days, faults, repaired, model=model, store_of=store_of, cohort_of=cohort_of, first=first, last=last)
    vehicles = len({d.vehicle_id for d in days})
    scores = score_alerts(run.raised, faults, vehicles=vehicles, days=(last - first).days + 1)
    return {m: round((s.true_alerts + 1) / (s.alerts + 2), 3) for m, s in scores.items() if m is not None}
