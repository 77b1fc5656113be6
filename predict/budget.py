"""The false-alert budget: each mode's alert threshold calibrated on the fleet's own scores (pure).

A threshold trained on one simulator's healthy cars says nothing about a fleet with other sensors, other
habits, another climate: on an independent fleet the shipped thresholds let 270 false alerts per 1,000
vehicle-months through. So the engine does not take the model's threshold as given. For each mode it keeps
every scored car's *alert statistic* (its store-adjusted z, on the model threshold's scale: a cohort
baseline's score divided by its 1.25 factor, a textbook-limit score by its 0.5) and, each day, looks at
each car's largest value over the last `WINDOW_DAYS`: the statistic a threshold must stay above for that
car not to alert within the window.

Those maxima follow an extreme-value (Gumbel) law for healthy cars whose days are alike. It is fitted on
the median and the 85th percentile across the cars, the part of the distribution the few failing cars of
a fleet (a few per cent per mode) do not reach, and extrapolated to the level a healthy car's maximum
passes with probability budget x window (aiming at a quarter of the budget, `TARGET_SHARE`: the fit is an
estimate): the budget threshold. Real fleets have cars with a second kind
of day (a trailer, a smart alternator, weeks parked), which makes the upper tail heavier than that law:
with 40 cars or more, an exponential tail through the 70th and 90th percentiles is extrapolated too, and
the higher of the two levels is taken. A tail heavier still, from a few per cent of the cars, is beyond
what any threshold can tell from failing cars: live precision holds a mode whose alerts keep being
refuted (`predict.outcomes`). A store's fit (its climate, its makes, its drivers) is shrunk
towards the whole fleet's by the number of cars it rests on, and the fleet's towards the model's
threshold, so a new store or a young deployment starts from the model. The threshold used is never below
the model's: the budget only ever makes an alert harder to raise, whatever the fleet looks like.

Cars the store has confirmed a repair of (for that mode) in the window are left out: their maximum was
the fault.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

DEFAULT_BUDGET_PER_1000_VM = 2.0  # false alerts per 1,000 vehicle-months per mode (a setting)
WINDOW_DAYS = 30
MONTH_DAYS = 30.44
# The fit reads the median and this quantile of the cars' window maxima: high enough to see the spread, low
# enough that the few failing cars of a fleet (the top few per cent of a mode) do not move it much.
UPPER_QUANTILE = 0.85
# The fit aims at this share of the budget: it extrapolates from a few hundred car-months, and a fleet's cars
# with a second kind of day make its tail heavier than any fit of the bulk can see.
TARGET_SHARE = 0.25
MIN_CARS = 10  # cars with a window's maximum below which a level has no fit of its own
MIN_CARS_FOR_TAIL = 40  # and below which its upper tail is not read
MIN_SCORED_DAYS = 3  # a car's window needs this many scored days to count
PRIOR_CARS = 20  # how many cars' worth of weight the level above carries in a store's (or the fleet's) fit


def _reduced(q: float) -> float:
    """The Gumbel reduced variate of quantile q: -ln(-ln q)."""
    return -math.log(-math.log(q))


def budget_level(maxima: Iterable[float], *, budget_per_1000_vm: float, window_days: int = WINDOW_DAYS) -> float | None:
    """The level a healthy car's maximum over `window_days` passes with probability `TARGET_SHARE` x budget x
    window, from a Gumbel law through the cars' median and `UPPER_QUANTILE` maxima, or an exponential tail
    through their 70th and 90th percentiles if higher (None for fewer than `MIN_CARS` cars)."""
    values = sorted(maxima)
    if len(values) < MIN_CARS:
        return None
    exceed = min(0.05, TARGET_SHARE * budget_per_1000_vm / 1000.0 * window_days / MONTH_DAYS)
    q50, upper = _quantile(values, 0.5), _quantile(values, UPPER_QUANTILE)
    spread = max(0.0, upper - q50) / (_reduced(UPPER_QUANTILE) - _reduced(0.5))
    gumbel = q50 + spread * (_reduced(1.0 - exceed) - _reduced(0.5))
    if len(values) < MIN_CARS_FOR_TAIL:
        return gumbel
    # an exponential tail through the 70th and 90th percentiles: a fleet whose healthy cars now and then jump
    # (a second kind of day) has a heavier tail than the Gumbel law of the median and the 85th says; the 90th
    # is still below the few per cent of failing cars
    q70, q90 = _quantile(values, 0.7), _quantile(values, 0.9)
    decay = max(0.0, q90 - q70) / math.log(0.3 / 0.1)
    return max(gumbel, q90 + decay * math.log(0.1 / exceed))


def _quantile(ordered: list[float], q: float) -> float:
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def shrunk(own: float | None, cars: int, towards: float, *, weight: float = PRIOR_CARS) -> float:
    """A level's own fit pulled towards the level above it by `weight` cars' worth (the level above alone
    when there is no fit of its own)."""
    if own is None:
        return towards
    return (cars * own + weight * towards) / (cars + weight)


@dataclass(frozen=True, slots=True)
class Calibration:
    """One store's threshold for one mode on one day, with what it rests on."""

    threshold: float  # what the alert statistic must reach (never below `model_threshold`)
    model_threshold: float
    budget_threshold: float  # the shrunk fit (may be below the model's)
    store_cars: int  # cars of the store whose window maximum entered the fit
    fleet_cars: int


@dataclass
class BudgetTracker:
    """Each car's recent alert statistics per mode, and the thresholds they give (`calibrate`)."""

    budget_per_1000_vm: float = DEFAULT_BUDGET_PER_1000_VM
    window_days: int = WINDOW_DAYS
    # mode -> vehicle -> (day, statistic) of its scored days in the window, oldest first
    recent: dict[object, dict[int, deque[tuple[date, float]]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(deque))
    )

    def record(self, vehicle_id: int, mode: object, day: date, statistic: float) -> None:
        """Keep a car's statistic of `day` (days come in order; a day scored again replaces its value)."""
        values = self.recent[mode][vehicle_id]
        while values and values[-1][0] >= day:
            values.pop()
        values.append((day, statistic))
        while values and values[0][0] <= day - timedelta(days=self.window_days):
            values.popleft()

    def maxima(self, mode: object, day: date, *, excluded: Collection[int] = ()) -> dict[int, float]:
        """Each car's largest statistic of `mode` over the window ending on `day` (cars with enough days)."""
        since = day - timedelta(days=self.window_days)
        out = {}
        for vehicle_id, values in self.recent[mode].items():
            if vehicle_id in excluded:
                continue
            window = [v for d, v in values if since < d <= day]
            if len(window) >= MIN_SCORED_DAYS:
                out[vehicle_id] = max(window)
        return out

    def calibrate(
        self, mode: object, day: date, *, model_threshold: float, store_of: dict[int, int], excluded: Collection[int]
    ) -> tuple[Calibration, dict[int, Calibration]]:
        """The threshold of `mode` on `day` for the whole fleet (a store with no car in the fit yet) and for
        every store with one (see the module docstring)."""
        maxima = self.maxima(mode, day, excluded=excluded)
        level, window = self.budget_per_1000_vm, self.window_days
        fleet_fit = shrunk(budget_level(maxima.values(), budget_per_1000_vm=level, window_days=window),
                           len(maxima), model_threshold)  # fmt: skip
        fleet = Calibration(max(model_threshold, fleet_fit), model_threshold, fleet_fit, 0, len(maxima))
        by_store: dict[int, list[float]] = defaultdict(list)
        for vehicle_id, value in maxima.items():
            by_store[store_of.get(vehicle_id, -1)].append(value)
        stores = {}
        for store, values in by_store.items():
            fit = shrunk(budget_level(values, budget_per_1000_vm=level, window_days=window), len(values), fleet_fit)
            stores[store] = Calibration(max(model_threshold, fit), model_threshold, fit, len(values), len(maxima))
        return fleet, stores
