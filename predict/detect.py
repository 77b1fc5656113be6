"""The detector: a vehicle's health index against its own baseline, adjusted for its cohort and the weather.

Pure functions over a vehicle's daily index values (no I/O). For day `d`:

1. `adjusted = index - slope * (covariate - reference)`: the known confounder (cold for cranking, air
   temperature for charging voltage and coolant) is taken out with a slope learned from healthy cars.
2. Baseline = the vehicle's own adjusted values in the earliest 30 valid days of the window
   [d - 150, d - 7] (at least 8): the car compared with itself before the fault, not with other cars;
   taking the earliest days keeps a slowly developing fault out of its own baseline.
   Scale = robust spread of that baseline, never below the index's physical floor.
   A car without that history yet (a new dongle, a car driven once a week) is compared with a prior
   instead: the model's healthy-fleet value for an index that compares the car with itself within the
   day (misfire), else its cohort's (same make, model and engine in the same store, so the same
   climate): the median of the cohort cars' own baselines, with their spread (`cohort_prior`).
   A car with its own baseline whose z is halfway to the threshold is also judged against its cohort
   (`against_prior`): fitted with a dongle while its part was already failing, its own baseline holds
   the fault, but its cohort does not.
3. Level = median of the last 3 valid days (no single odd day raises an alert);
   z = (level - baseline) / scale, minus the cohort's median z that day (a cold snap or a heat wave
   moves every car of the store the same way; a failing part moves one).
4. An alert needs z >= threshold and 2 of the last 3 valid days above half of it (persistence).
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from datetime import date, timedelta

BASELINE_LAG_DAYS = 7
BASELINE_SPAN_DAYS = 150
BASELINE_MAX_DAYS = 30
MIN_BASELINE_DAYS = 8
# The robust spread of 8-14 days is itself a noisy estimate (a car's first two weeks can be tight by chance,
# then its ordinary wander reads as a fault): until its baseline has this many days, a car's scale is at
# least the typical car's of its cohort (else of its store: `Engine._typical_spreads`).
YOUNG_BASELINE_DAYS = 15
RECENT_DAYS = 3
RECENT_WINDOW = timedelta(days=21)  # a car driven once a week still gets scored on its driving days


@dataclass(frozen=True, slots=True)
class Point:
    day: date
    index: float
    covariate: float | None
    condition: float | None = None  # what the day was like (`IndexSpec.condition`): judged only if the baseline saw it


@dataclass(frozen=True, slots=True)
class ModeParams:
    """What training sets for one mode."""

    threshold: float = 5.0
    slope: float = 0.0
    covariate_ref: float = 0.0
    failure_z: float = 15.0  # z at which the part typically fails (for days-to-failure)
    # The healthy fleet's index (median, robust spread), standing in for the vehicle's own baseline until it
    # has MIN_BASELINE_DAYS of history. Set only for an index that compares the vehicle with itself within
    # the day (misfire: the worst cylinder against its siblings), so that a car driven once a week, or
    # fitted with a dongle while already failing, is not left unscored for two months.
    prior_centre: float | None = None
    prior_scale: float | None = None
    # The share of this mode's alerts that were real where the model was last checked (the stress profile at
    # promotion, else its training fleets): the prior of the confidence stated with an alert (`predict.outcomes`).
    prior_precision: float = 0.5


@dataclass(frozen=True, slots=True)
class Prior:
    """A baseline the vehicle does not have yet: where its index should sit and how much it may vary."""

    centre: float
    scale: float
    source: str  # "fleet" (the model's healthy fleet) or "cohort" (the same make/model/engine in the store)


MIN_COHORT_CARS = 5


def cohort_prior(baselines: list[tuple[float, float]]) -> Prior | None:
    """The prior of a cohort from its cars' own baselines (centre, scale): the median centre, and a scale
    that adds the spread between the cars to the typical car's own day-to-day spread. None for fewer
    than `MIN_COHORT_CARS` cars (too few to tell a cohort from one odd car)."""
    if len(baselines) < MIN_COHORT_CARS:
        return None
    centres = [c for c, _ in baselines]
    centre = statistics.median(centres)
    between = 1.4826 * statistics.median(abs(c - centre) for c in centres)
    return Prior(centre, math.hypot(between, statistics.median(s for _, s in baselines)), "cohort")


@dataclass(frozen=True, slots=True)
class Score:
    day: date
    z: float
    level: float
    baseline: float
    scale: float
    persistent: bool
    trend_per_day: float | None  # z units per day over the last two weeks
    baseline_from: str = "own"  # "own": the vehicle's earliest valid days; else the `Prior.source` used
    own_spread: float = 0.0  # the own baseline's spread (floored), before the young-baseline minimum: what cohorts pool
    past_limit: bool = False  # the level is also past the index's textbook limit (`IndexSpec.absolute_limit`)


def robust_spread(values: list[float], centre: float) -> float:
    """A baseline's day-to-day spread as one standard deviation would be: the larger of 1.4826 x MAD and the
    90th percentile of the absolute deviations / 1.645. For a car whose days are alike both are its noise;
    for a car with a second kind of day (a trailer some days, a smart alternator that charges on some and
    not on others, a car parked for weeks now and then) the MAD sees only the majority and calls the other
    kind of day a fault, the 90th percentile sees both (they are the car's normal)."""
    deviations = sorted(abs(v - centre) for v in values)
    mad = 1.4826 * statistics.median(deviations)
    tail = deviations[min(len(deviations) - 1, int(0.9 * len(deviations)))] / 1.645
    return max(mad, tail)


def adjusted(point: Point, params: ModeParams) -> float:
    if point.covariate is None:
        return point.index
    return point.index - params.slope * (point.covariate - params.covariate_ref)


def point_day(point: Point) -> date:
    """Sort and bisect key: points are kept in day order."""
    return point.day


def score(
    points: list[Point],
    day: date,
    params: ModeParams,
    *,
    floor: float,
    presorted: bool = False,
    prior: Prior | None = None,
    typical_spread: float | None = None,
    seen_conditions_only: bool = False,
) -> Score | None:
    """Score a vehicle's mode on `day` from its points (days <= `day` are used). `presorted`: the points
    are in day order already (the engine keeps them so; 10,000 vehicles x 7 modes are scored a day).
    The baseline is the vehicle's own, else the model's fleet prior, else `prior` (its cohort's).
    `typical_spread`: the typical car's own day-to-day spread (its cohort's, else its store's), the least
    scale a young own baseline (fewer than `YOUNG_BASELINE_DAYS`) is given. `seen_conditions_only`: a day
    whose covariate is past anything its own baseline saw is not judged (`IndexSpec.seen_conditions_only`)."""
    ordered = points if presorted else sorted(points, key=point_day)
    history = ordered[: bisect_right(ordered, day, key=point_day)]
    first = bisect_left(history, day - timedelta(days=BASELINE_SPAN_DAYS), key=point_day)
    stop = bisect_right(history, day - timedelta(days=BASELINE_LAG_DAYS), key=point_day)
    base_points = history[first : min(stop, first + BASELINE_MAX_DAYS)]
    base = [adjusted(p, params) for p in base_points]
    if seen_conditions_only and len(base) >= MIN_BASELINE_DAYS:  # days unlike most baseline days are not judged
        history = history[:stop] + [p for p in history[stop:] if _seen(p, base_points)]
    recent = [p for p in history[-RECENT_DAYS:] if p.day > day - RECENT_WINDOW]
    if len(recent) < 2 or recent[-1].day != day:
        return None
    if len(base) >= MIN_BASELINE_DAYS:
        centre = statistics.median(base)
        own = spread = robust_spread(base, centre)
        if typical_spread is not None and len(base) < YOUNG_BASELINE_DAYS:
            spread = max(own, typical_spread)
        source = "own"
    elif params.prior_centre is not None and params.prior_scale is not None:
        centre, own, spread, source = params.prior_centre, 0.0, params.prior_scale, "fleet"
    elif prior is not None:
        centre, own, spread, source = prior.centre, 0.0, prior.scale, prior.source
    else:
        return None
    scale = max(spread, floor)
    values = [adjusted(p, params) for p in recent]
    level = statistics.median(values)
    z = (level - centre) / scale
    persistent = sum((v - centre) / scale >= params.threshold / 2 for v in values) >= 2
    trend = _trend(history, day, params, centre, scale)
    return Score(day, z, level, centre, scale, persistent, trend, source, own_spread=max(own, floor))


def _seen(point: Point, baseline: list[Point]) -> bool:
    """Whether a day's condition is within what the baseline saw on most of its days: up to its 90th percentile
    and half its 10-90 range beyond (a trailer on one baseline day in twenty is not the car's normal;
    on more, the baseline's spread holds those days too)."""
    conditions = sorted(p.condition for p in baseline if p.condition is not None)
    if point.condition is None or not conditions:
        return True
    low, high = conditions[int(0.1 * (len(conditions) - 1))], conditions[int(0.9 * (len(conditions) - 1))]
    return point.condition <= high + 0.5 * (high - low)


def against_prior(s: Score, prior: Prior, *, floor: float) -> Score:
    """The same day's level judged against a prior (the cohort's) instead of the vehicle's own baseline:
    a car fitted with a dongle while its part was already failing has the fault in its own baseline."""
    scale = max(prior.scale, floor)
    trend = None if s.trend_per_day is None else s.trend_per_day * s.scale / scale
    return replace(s, z=(s.level - prior.centre) / scale, baseline=prior.centre, scale=scale, trend_per_day=trend,
                   baseline_from=prior.source)  # fmt: skip


def _trend(history: list[Point], day: date, params: ModeParams, centre: float, scale: float) -> float | None:
    window = history[bisect_right(history, day - timedelta(days=14), key=point_day) :]
    if len(window) < 5:
        return None
    xs = [(p.day - day).days for p in window]
    ys = [(adjusted(p, params) - centre) / scale for p in window]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var if var else None


def days_to_failure(s: Score, params: ModeParams) -> float | None:
    """Days until the index reaches the level where the part typically fails (1-180 days).

    Wear accelerates as it goes (a sulphating battery, a leaking cooling circuit, a wearing brush): the
    deviation is taken to grow exponentially, z(t) = z·exp(r·t), at the rate the two-week trend shows
    today (r = trend / z), so t = ln(failure_z / z) · z / trend. A straight line through the same trend
    overestimates the time left on every mode of the evaluation (docs/prediction.md)."""
    if s.z >= params.failure_z:
        return 1.0
    if s.trend_per_day is None or s.trend_per_day <= 0.01 or s.z <= 0.0:
        return None
    return min(180.0, max(1.0, math.log(params.failure_z / s.z) * s.z / s.trend_per_day))


def cohort_shift(z_by_vehicle: dict[int, float], *, minimum: int = 5) -> float:
    """The cohort's common move that day (median z, bounded), or 0 for a cohort too small to tell."""
    if len(z_by_vehicle) < minimum:
        return 0.0
    return max(-3.0, min(3.0, statistics.median(z_by_vehicle.values())))
