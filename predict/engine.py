"""The scoring engine: daily features in, findings out, one data day at a time (pure, no I/O).

`Engine.add(day)` feeds a vehicle-day (from replay or from the live service); `Engine.score_day(d)`
scores every vehicle that has data on `d` for every mode and returns the findings that pass the
model's thresholds. Garbage days are kept out of every baseline and reported as data-quality issues,
never as faults. Replay and the live service share this code, so history replays as if live.
"""

from __future__ import annotations

import logging
import math
import statistics
from bisect import bisect_right, insort
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from predict.budget import BudgetTracker, Calibration
from predict.catalog import CATALOG, FailureMode, confirms
from predict.detect import (
    MIN_COHORT_CARS,
    ModeParams,
    Point,
    Prior,
    Score,
    adjusted,
    against_prior,
    cohort_prior,
    cohort_shift,
    days_to_failure,
    point_day,
    score,
)
from predict.features import Quality, VehicleDay
from predict.model import Model
from predict.modes import INDEXES
from predict.outcomes import DEFAULT_MIN_OUTCOMES, DEFAULT_PRECISION_FLOOR, Hold, Precision, confidence, hold
from predict.settings import PredictSettings

log = logging.getLogger(__name__)
EVIDENCE_DAYS = 30
# No index or covariate of any mode comes near this; a value past it is a broken feature, kept out of every
# baseline (so that arithmetic on it cannot overflow and one car's garbage cannot reach the others' scores).
MAX_ABS_VALUE = 1e6


DTC_LOOKBACK_DAYS = 14
GARBAGE_RUN_DAYS = 3
# A cohort's baseline is looser than the car's own (cars of one model differ a little): a score against it
# must go this much further before it raises an alert.
COHORT_THRESHOLD_FACTOR = 1.25
# A car past its index's textbook limit (`IndexSpec.absolute_limit`) alerts when persistently this share of the
# way to the threshold against its own baseline: its baseline may already hold the fault.
LIMIT_THRESHOLD_FACTOR = 0.5
FLEET_PRIOR_DAYS = 30
FLEET_PRIOR_CARS = 30
CRITICAL_WITHIN_DAYS = 7.0  # an alert whose part is expected to fail this soon is critical
RECENT_REPAIR_DAYS = 30  # a car repaired this long before the budget's window still had the fault in it
Cohort = tuple[object, ...]  # (store, make, model, engine): `predict.service.cohort_key`
ScoreObserver = Callable[[int, FailureMode, float, Score], None]  # vehicle, mode, cohort-adjusted z, score


@dataclass(frozen=True, slots=True)
class Finding:
    vehicle_id: int
    mode: FailureMode
    day: date
    observed_at: datetime
    z: float
    severity: str
    confidence: float
    days_to_failure: float | None
    evidence: dict[str, object]
    held: bool = False  # the mode is held back for poor live precision: the watch list, not the queue


@dataclass(frozen=True, slots=True)
class ScoringError:
    """One vehicle and mode that could not be scored on a day: logged and counted, the others go on."""

    vehicle_id: int
    mode: FailureMode
    day: date
    error: str


def _physical(value: float | None) -> float | None:
    """The value if it is a finite number of a plausible size, else None."""
    return value if value is not None and math.isfinite(value) and abs(value) <= MAX_ABS_VALUE else None


@dataclass
class Engine:
    model: Model
    store_of: dict[int, int]  # vehicle id -> store id (the store is the climate cohort)
    points: dict[tuple[int, FailureMode], list[Point]] = field(default_factory=lambda: defaultdict(list))
    days: dict[tuple[int, date], VehicleDay] = field(default_factory=dict)
    garbage: dict[int, set[date]] = field(default_factory=lambda: defaultdict(set))
    # (vehicle, mode) -> the day the part was found faulty and replaced: the history before it is another part's
    repaired: dict[tuple[int, FailureMode], date] = field(default_factory=dict)
    dtc_days: dict[int, dict[date, VehicleDay]] = field(default_factory=lambda: defaultdict(dict))
    cohort_of: dict[int, Cohort] = field(default_factory=dict)  # vehicle id -> cohort (none: no cohort prior)
    # (vehicle, mode) -> the vehicle's latest own baseline (centre, scale), pooled into its cohort's prior
    baselines: dict[tuple[int, FailureMode], tuple[float, float]] = field(default_factory=dict)
    # what could not be scored since the caller last took them (`take_errors`): one car never stops the others
    errors: list[ScoringError] = field(default_factory=list)
    # the false-alert budget (`predict.budget`): None scores against the model's thresholds alone
    budget: BudgetTracker | None = field(default_factory=BudgetTracker)
    # (store, mode) -> the calibration of the last day scored (store -1: a store with no car in the fit yet)
    calibrations: dict[tuple[int, FailureMode], Calibration] = field(default_factory=dict)
    # per mode, the outcomes of this model's closed alerts so far (`predict.outcomes`): confidence and holds
    outcomes: dict[FailureMode, Precision] = field(default_factory=dict)
    precision_floor: float = DEFAULT_PRECISION_FLOOR
    min_outcomes: int = DEFAULT_MIN_OUTCOMES

    @classmethod
    def configured(
        cls, model: Model, store_of: dict[int, int], *, cohort_of: dict[int, Cohort], settings: PredictSettings
    ) -> Engine:
        """An engine with the deployment's false-alert budget and precision floor."""
        return cls(model, store_of, cohort_of=cohort_of, budget=BudgetTracker(settings.budget_per_1000_vm),
                   precision_floor=settings.precision_floor, min_outcomes=settings.min_outcomes)  # fmt: skip

    @property
    def budget_window_days(self) -> int:
        return self.budget.window_days if self.budget else 0

    def warm_budget(self, *, first: date, last: date) -> None:
        """Score the days [first, last] for the budget's window alone (no findings): what a restarted service
        needs before its thresholds are the fleet's again."""
        day = first
        while day <= last and self.budget is not None:
            self._calibrate(day, self.all_scores(day))
            day += timedelta(days=1)

    def hold(self, mode: FailureMode) -> Hold:
        """Whether the mode's new alerts go to the watch list (its live precision is below the floor)."""
        return hold(self.outcomes.get(mode, Precision()), floor=self.precision_floor, min_outcomes=self.min_outcomes)

    def take_errors(self) -> list[ScoringError]:
        """The scoring errors since the last call (the service logs them and counts them in a metric)."""
        errors, self.errors = self.errors, []
        return errors

    def _failed(self, vehicle_id: int, mode: FailureMode, day: date, error: Exception) -> None:
        log.exception("vehicle %s, mode %s, day %s: not scored", vehicle_id, mode.value, day, exc_info=error)
        self.errors.append(ScoringError(vehicle_id, mode, day, f"{type(error).__name__}: {error}"))

    def add(self, vday: VehicleDay) -> None:
        """Take in a vehicle-day (re-adding the same day replaces it)."""
        key = (vday.vehicle_id, vday.day)
        if key in self.days:
            for mode in FailureMode:
                pts = self.points[(vday.vehicle_id, mode)]
                pts[:] = [p for p in pts if p.day != vday.day]
            self.garbage[vday.vehicle_id].discard(vday.day)
        self.days[key] = vday
        self.dtc_days[vday.vehicle_id].pop(vday.day, None)
        if vday.dtc_pending or vday.dtc_stored:
            self.dtc_days[vday.vehicle_id][vday.day] = vday
        if vday.quality is Quality.GARBAGE:
            self.garbage[vday.vehicle_id].add(vday.day)
            return
        for mode, spec in INDEXES.items():
            try:
                index = _physical(spec.index(vday.features))
                covariate = _physical(spec.covariate(vday.features)) if spec.covariate else None
                condition = _physical(spec.condition(vday.features)) if spec.condition else None
            except (ArithmeticError, TypeError, ValueError) as error:  # a feature no index can read
                self._failed(vday.vehicle_id, mode, vday.day, error)
                continue
            if index is not None:
                insort(
                    self.points[(vday.vehicle_id, mode)], Point(vday.day, index, covariate, condition), key=point_day
                )

    def data_quality_issues(self, day: date) -> list[int]:
        """Vehicles whose data was garbage on each of the last few days up to `day`."""
        return [v for v, days in self.garbage.items() if sum(1 for d in days if 0 <= (day - d).days < 5) >= 3]

    def score_day(self, day: date, *, observe: ScoreObserver | None = None) -> list[Finding]:
        """Score every vehicle with data on `day`; return the findings above threshold. `observe` sees every
        score (the backtest traces a vehicle with it)."""
        scores = self.all_scores(day)
        self._calibrate(day, scores)
        findings = []
        for (vehicle_id, mode), (z, s) in scores.items():
            if observe is not None:
                observe(vehicle_id, mode, z, s)
            if z >= self.alert_threshold(vehicle_id, mode, s) and s.persistent:
                try:
                    findings.append(self._finding(vehicle_id, mode, s, z))
                except (ArithmeticError, ValueError) as error:
                    self._failed(vehicle_id, mode, day, error)
        return findings

    def threshold(self, mode: FailureMode, s: Score) -> float:
        """The z a score must reach by the model alone: its threshold, raised for a cohort baseline, lowered
        for a level past the textbook limit."""
        threshold = self.model.mode(mode).threshold
        if s.baseline_from == "cohort":
            return threshold * COHORT_THRESHOLD_FACTOR
        return threshold * LIMIT_THRESHOLD_FACTOR if s.past_limit else threshold

    def alert_threshold(self, vehicle_id: int, mode: FailureMode, s: Score) -> float:
        """The z a score must reach to raise an alert: the model's (`threshold`), scaled up by the false-alert
        budget of the vehicle's store for the mode."""
        return self.threshold(mode, s) * self.budget_factor(self.store_of.get(vehicle_id, -1), mode)

    def budget_factor(self, store_id: int, mode: FailureMode) -> float:
        """How much the budget raised the model's threshold of `mode` in the store (1.0: not at all)."""
        cal = self.calibrations.get((store_id, mode)) or self.calibrations.get((-1, mode))
        return cal.threshold / cal.model_threshold if cal is not None and cal.model_threshold > 0 else 1.0

    def alert_statistic(self, mode: FailureMode, s: Score, z: float) -> float:
        """The score on the model threshold's scale (a cohort score divided by its factor, a textbook-limit one
        by its), capped below half the threshold on a day that is not persistent (it cannot alert)."""
        threshold = self.model.mode(mode).threshold
        statistic = z * threshold / self.threshold(mode, s)
        return statistic if s.persistent else min(statistic, threshold / 2)

    def _calibrate(self, day: date, scores: dict[tuple[int, FailureMode], tuple[float, Score]]) -> None:
        """Record the day's alert statistics and recompute every store's threshold per mode (`predict.budget`)."""
        if self.budget is None:
            return
        for (vehicle_id, mode), (z, s) in scores.items():
            self.budget.record(vehicle_id, mode, day, self.alert_statistic(mode, s, z))
        recent = day - timedelta(days=self.budget.window_days + RECENT_REPAIR_DAYS)
        for mode in INDEXES:
            repaired = {v for (v, m), when in self.repaired.items() if m is mode and when >= recent}
            fleet, stores = self.budget.calibrate(mode, day, model_threshold=self.model.mode(mode).threshold,
                                                  store_of=self.store_of, excluded=repaired)  # fmt: skip
            self.calibrations[(-1, mode)] = fleet
            for store, cal in stores.items():
                self.calibrations[(store, mode)] = cal

    def all_scores(self, day: date) -> dict[tuple[int, FailureMode], tuple[float, Score]]:
        """Every (vehicle, mode) score on `day` with its store-adjusted z (training reads these too)."""
        out: dict[tuple[int, FailureMode], tuple[float, Score]] = {}
        for mode in INDEXES:
            typical = self._typical_spreads(mode) if INDEXES[mode].cohort_prior else {}
            scores, waiting, comparable = self._own_scores(mode, day, typical)
            priors = self._cohort_priors(mode) if waiting or comparable else {}
            for vehicle_id, history in waiting:  # no baseline of their own yet: their cohort's
                if (s := self._against_cohort(mode, vehicle_id, history, day, priors)) is not None:
                    scores[vehicle_id] = s
            shifts = self._cohort_shifts(scores)
            for vehicle_id, s in scores.items():
                z = s.z - shifts.get(self.store_of.get(vehicle_id, -1), 0.0)
                if vehicle_id in comparable and s.persistent and self.model.mode(mode).threshold / 2 <= z:
                    z, s = self._second_opinion(mode, vehicle_id, s, z, z - s.z, priors)
                out[(vehicle_id, mode)] = (z, self._against_limit(mode, s, z))
        return out

    def _own_scores(
        self, mode: FailureMode, day: date, typical: dict[object, float]
    ) -> tuple[dict[int, Score], list[tuple[int, list[Point]]], set[int]]:
        """Score every vehicle with data on `day` against its own baseline (or the fleet prior).
        Return the scores, the vehicles that have no baseline yet but a cohort (with their history), and
        the vehicles whose own baseline their cohort's prior pools (kept in `baselines`)."""
        spec, params = INDEXES[mode], self.model.mode(mode)
        if spec.fleet_prior:
            params = self._fleet_prior(mode, day, params)
        scores: dict[int, Score] = {}
        waiting: list[tuple[int, list[Point]]] = []
        comparable: set[int] = set()
        for (vehicle_id, m), pts in self.points.items():
            if m is not mode or not pts or (vehicle_id, day) not in self.days:
                continue
            since = self.repaired.get((vehicle_id, mode))
            history = pts if since is None else [p for p in pts if p.day > since]
            spread = typical.get(self.cohort_of.get(vehicle_id), typical.get(self.store_of.get(vehicle_id)))
            try:
                s = score(
                    history,
                    day,
                    params,
                    floor=spec.floor,
                    presorted=True,
                    typical_spread=spread,
                    seen_conditions_only=spec.condition is not None,
                )
                if s is not None and not (math.isfinite(s.z) and math.isfinite(s.level)):
                    raise ArithmeticError(f"score not finite: z {s.z}, level {s.level}")
            except (ArithmeticError, ValueError) as error:
                self._failed(vehicle_id, mode, day, error)
                continue
            if s is None:
                # a car whose part was just replaced waits for a baseline of its own: it was never its cohort
                if spec.cohort_prior and vehicle_id in self.cohort_of and since is None:
                    waiting.append((vehicle_id, history))
                continue
            scores[vehicle_id] = s
            # a car whose air temperature is not read has unadjusted values: not comparable with its cohort
            cohort_ready = spec.cohort_prior and (spec.covariate is None or history[-1].covariate is not None)
            if s.baseline_from == "own" and cohort_ready:
                self.baselines[(vehicle_id, mode)] = (s.baseline, s.own_spread)
                comparable.add(vehicle_id)
        return scores, waiting, comparable

    def _fleet_prior(self, mode: FailureMode, day: date, params: ModeParams) -> ModeParams:
        """The prior a car without a baseline of its own is scored against: the distribution of the index over
        this fleet's cars in the last `FLEET_PRIOR_DAYS` (median, robust spread), once `FLEET_PRIOR_CARS` cars
        have one; until then the model's (its training fleet's, which another fleet need not share)."""
        since = day - timedelta(days=FLEET_PRIOR_DAYS)
        values: list[float] = []
        cars = 0
        for (_, m), pts in self.points.items():
            if m is not mode:
                continue
            recent = [adjusted(p, params) for p in pts[bisect_right(pts, since, key=point_day) :] if p.day <= day]
            cars += bool(recent)
            values += recent
        if cars < FLEET_PRIOR_CARS:
            return params
        centre = statistics.median(values)
        spread = 1.4826 * statistics.median(abs(v - centre) for v in values)
        return replace(params, prior_centre=centre, prior_scale=max(spread, INDEXES[mode].floor))

    def _against_cohort(
        self, mode: FailureMode, vehicle_id: int, history: list[Point], day: date, priors: dict[Cohort, Prior]
    ) -> Score | None:
        """A vehicle without a baseline of its own scored against its cohort's prior (None without one)."""
        if (prior := priors.get(self.cohort_of[vehicle_id])) is None:
            return None
        spec = INDEXES[mode]
        if spec.covariate is not None:
            history = [p for p in history if p.covariate is not None]
        return score(history, day, self.model.mode(mode), floor=spec.floor, presorted=True, prior=prior)

    def _second_opinion(
        self, mode: FailureMode, vehicle_id: int, s: Score, z: float, shift: float, priors: dict[Cohort, Prior]
    ) -> tuple[float, Score]:
        """A car halfway to an alert against itself, judged against its cohort too: the cohort's score if that
        one reaches its (higher) threshold, else its own. `shift` is the store's move that day (applied to both)."""
        cohort = self.cohort_of.get(vehicle_id)
        if z >= self.model.mode(mode).threshold or cohort is None or (prior := priors.get(cohort)) is None:
            return z, s
        alt = against_prior(s, prior, floor=INDEXES[mode].floor)
        alt_z = alt.z + shift
        return (alt_z, alt) if alt_z >= self.threshold(mode, alt) else (z, s)

    def _against_limit(self, mode: FailureMode, s: Score, z: float) -> Score:
        """Mark a score whose level is past the index's textbook limit while the car is persistently halfway to
        an alert against its own baseline (`IndexSpec.absolute_limit`; `threshold` then asks only that much)."""
        spec, threshold = INDEXES[mode], self.model.mode(mode).threshold
        if (spec.absolute_limit and s.baseline_from == "own" and s.persistent
                and threshold * LIMIT_THRESHOLD_FACTOR <= z < threshold and s.level >= spec.fixed_limit):  # fmt: skip
            return replace(s, past_limit=True)
        return s

    def _cohort_priors(self, mode: FailureMode) -> dict[Cohort, Prior]:
        by_cohort: dict[Cohort, list[tuple[float, float]]] = defaultdict(list)
        for (vehicle_id, m), baseline in self.baselines.items():
            if m is mode and (cohort := self.cohort_of.get(vehicle_id)) is not None:
                by_cohort[cohort].append(baseline)
        return {cohort: prior for cohort, bs in by_cohort.items() if (prior := cohort_prior(bs)) is not None}

    def _typical_spreads(self, mode: FailureMode) -> dict[object, float]:
        """The typical car's own day-to-day spread of the index, by cohort and, for a car without one, by store
        (the median of the kept own baselines' spreads, from `MIN_COHORT_CARS` cars)."""
        by_key: dict[object, list[float]] = defaultdict(list)
        for (vehicle_id, m), (_, spread) in self.baselines.items():
            if m is mode:
                if (cohort := self.cohort_of.get(vehicle_id)) is not None:
                    by_key[cohort].append(spread)
                if (store := self.store_of.get(vehicle_id)) is not None:
                    by_key[store].append(spread)
        return {key: statistics.median(s) for key, s in by_key.items() if len(s) >= MIN_COHORT_CARS}

    def _cohort_shifts(self, scores: dict[int, Score]) -> dict[int, float]:
        by_store: dict[int, dict[int, float]] = defaultdict(dict)
        for vehicle_id, s in scores.items():
            by_store[self.store_of.get(vehicle_id, -1)][vehicle_id] = s.z
        return {store: cohort_shift(zs) for store, zs in by_store.items()}

    def _finding(self, vehicle_id: int, mode: FailureMode, s: Score, z: float) -> Finding:
        params, spec = self.model.mode(mode), INDEXES[mode]
        pending, stored = self.confirming_dtcs(vehicle_id, mode, s.day)
        eta = days_to_failure(replace(s, z=z), params)
        threshold = self.alert_threshold(vehicle_id, mode, s)
        # how soon it fails, not how far the index stands out: a big steady deviation is not an emergency
        critical = bool(stored) or (eta is not None and eta <= CRITICAL_WITHIN_DAYS)
        chance = confidence(params.prior_precision, self.outcomes.get(mode, Precision()))
        if stored:  # the car's own monitor confirms it: half the remaining doubt goes
            chance = 1.0 - (1.0 - chance) / 2.0
        series = [
            {"day": p.day.isoformat(), "index": round(p.index, 4), "adjusted": round(adjusted(p, params), 4)}
            for p in self.points[(vehicle_id, mode)]
            if 0 <= (s.day - p.day).days < EVIDENCE_DAYS
        ]
        observed = self.days[(vehicle_id, s.day)].data_time
        evidence: dict[str, object] = {
            "signal": spec.name,
            "unit": spec.unit,
            "z": round(z, 2),
            "threshold_z": round(threshold, 3),
            "model_threshold_z": round(self.threshold(mode, s), 3),  # before the store's false-alert budget
            "baseline": round(s.baseline, 4),
            "baseline_from": s.baseline_from,
            "textbook_limit": spec.fixed_limit if s.past_limit else None,
            "scale": round(s.scale, 4),
            "level": round(s.level, 4),
            "cohort_shift": round(s.z - z, 2),
            "trend_z_per_day": None if s.trend_per_day is None else round(s.trend_per_day, 3),
            "series": series,
            "dtc_pending": list(pending),
            "dtc_stored": list(stored),
            "model_version": self.model.version,
        }
        return Finding(
            vehicle_id=vehicle_id,
            mode=mode,
            day=s.day,
            observed_at=observed,
            z=z,
            severity="critical" if critical else "warning",
            confidence=round(chance, 3),
            days_to_failure=None if eta is None else round(eta, 1),
            evidence=evidence,
            held=self.hold(mode).held,
        )

    def confirming_dtcs(self, vehicle_id: int, mode: FailureMode, day: date) -> tuple[list[str], list[str]]:
        """The pending and stored codes confirming `mode` in the two weeks up to `day` (evidence, never a trigger)."""
        pending: set[str] = set()
        stored: set[str] = set()
        for d, vday in self.dtc_days.get(vehicle_id, {}).items():
            if 0 <= (day - d).days < DTC_LOOKBACK_DAYS:
                pending.update(c for c in vday.dtc_pending if confirms(mode, c))
                stored.update(c for c in vday.dtc_stored if confirms(mode, c))
        return sorted(pending), sorted(stored)


def operation_for(mode: FailureMode) -> tuple[str, tuple[str, ...]]:
    op = CATALOG[mode].operation
    return op.op_code, op.parts
