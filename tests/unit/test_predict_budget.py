"""The false-alert budget: thresholds from the fleet's own scores (Gumbel fit, shrinkage, never below the model's)."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import pytest

from predict.budget import MIN_CARS, TARGET_SHARE, BudgetTracker, budget_level, shrunk

D0 = date(2026, 3, 1)


def gumbel(rng: random.Random, mu: float, beta: float) -> float:
    return mu - beta * math.log(-math.log(rng.random()))


def test_the_budget_level_is_the_gumbel_quantile_of_the_window_maxima() -> None:
    rng = random.Random(1)
    maxima = [gumbel(rng, 2.0, 0.5) for _ in range(4000)]
    level = budget_level(maxima, budget_per_1000_vm=2.0, window_days=30)
    exceed = TARGET_SHARE * 2.0 / 1000 * 30 / 30.44
    assert level is not None
    exact = 2.0 - 0.5 * math.log(-math.log(1 - exceed))
    assert exact - 0.1 <= level <= exact + 0.5  # the exponential tail errs on the high side, never much
    # and healthy cars pass it at the targeted share of the budget or less
    fresh = [gumbel(rng, 2.0, 0.5) for _ in range(400_000)]
    rate = sum(m >= level for m in fresh) / len(fresh)
    assert exceed / 4 <= rate <= exceed * 1.3


def test_a_few_failing_cars_in_the_fleet_move_the_level_little() -> None:
    rng = random.Random(2)
    healthy = [gumbel(rng, 2.0, 0.5) for _ in range(950)]
    failing = [rng.uniform(8, 40) for _ in range(50)]  # 5 % of the cars far past any threshold
    clean = budget_level(healthy, budget_per_1000_vm=2.0)
    mixed = budget_level(healthy + failing, budget_per_1000_vm=2.0)
    assert clean is not None and mixed is not None
    assert 0 <= mixed - clean < 0.3 * clean  # 5 % of cars at the top raise it by under a third


def test_a_fleet_with_a_second_kind_of_day_gets_the_heavier_tail_it_shows() -> None:
    """A tenth of the healthy cars sometimes tow a trailer: their maxima sit far above the others'."""
    rng = random.Random(5)
    calm = [gumbel(rng, 1.0, 0.3) for _ in range(360)]
    towing = [gumbel(rng, 4.0, 1.0) for _ in range(40)]
    level = budget_level(calm + towing, budget_per_1000_vm=2.0)
    light_tailed = budget_level(calm, budget_per_1000_vm=2.0)
    assert level is not None and light_tailed is not None
    assert level > light_tailed + 2.0
    assert sum(m >= level for m in towing) <= 2  # the towing cars' maxima no longer pass it


def test_a_fleet_that_wanders_more_gets_a_higher_level() -> None:
    rng = random.Random(3)
    calm = budget_level([gumbel(rng, 1.5, 0.4) for _ in range(300)], budget_per_1000_vm=2.0)
    wandering = budget_level([gumbel(rng, 3.0, 1.5) for _ in range(300)], budget_per_1000_vm=2.0)
    assert calm is not None and wandering is not None
    assert wandering > 2 * calm


def test_too_few_cars_have_no_level_of_their_own() -> None:
    assert budget_level([1.0] * (MIN_CARS - 1), budget_per_1000_vm=2.0) is None
    assert shrunk(None, 0, 4.2) == 4.2
    assert shrunk(10.0, 40, 4.0, weight=40) == pytest.approx(7.0)


def test_a_calm_fleet_keeps_the_model_threshold() -> None:
    tracker, store_of = tracker_with({1: (0.0, 0.5)}, cars=60)
    fleet, stores = tracker.calibrate("battery", D0 + timedelta(days=29), model_threshold=3.0, store_of=store_of,
                                      excluded=set())  # fmt: skip
    assert fleet.budget_threshold < 3.0 and stores[1].budget_threshold < 3.0
    assert fleet.threshold == stores[1].threshold == 3.0


def tracker_with(
    stores: dict[int, tuple[float, float]], *, cars: int, days: int = 30
) -> tuple[BudgetTracker, dict[int, int]]:
    """Cars in each store with daily statistics drawn around (centre, spread)."""
    rng = random.Random(4)
    tracker = BudgetTracker(budget_per_1000_vm=2.0)
    store_of = {}
    vehicle = 0
    for store, (centre, spread) in stores.items():
        for _ in range(cars):
            vehicle += 1
            store_of[vehicle] = store
            for n in range(days):
                tracker.record(vehicle, "battery", D0 + timedelta(days=n), rng.gauss(centre, spread))
    return tracker, store_of


def test_a_store_whose_healthy_cars_wander_gets_a_higher_threshold_and_none_falls_below_the_model() -> None:
    tracker, store_of = tracker_with({1: (0.0, 0.5), 2: (1.0, 2.5)}, cars=60)
    fleet, stores = tracker.calibrate("battery", D0 + timedelta(days=29), model_threshold=3.0, store_of=store_of,
                                      excluded=set())  # fmt: skip
    assert stores[2].threshold > 8.0  # the wandering one is held to its own cars' spread
    assert 3.0 <= stores[1].threshold < stores[2].threshold / 2  # the calm one leans on the fleet a little
    assert fleet.fleet_cars == 120 and stores[2].store_cars == 60


def test_a_small_store_leans_on_the_fleet() -> None:
    tracker, store_of = tracker_with({1: (1.0, 2.5), 2: (1.0, 2.5)}, cars=40)
    for n in range(30):  # a store of three calm cars
        for v in (1001, 1002, 1003):
            tracker.record(v, "battery", D0 + timedelta(days=n), 0.1)
    store_of |= {1001: 9, 1002: 9, 1003: 9}
    fleet, stores = tracker.calibrate("battery", D0 + timedelta(days=29), model_threshold=3.0, store_of=store_of,
                                      excluded=set())  # fmt: skip
    assert stores[9].budget_threshold == pytest.approx(fleet.budget_threshold)


def test_cars_repaired_in_the_window_and_days_outside_it_do_not_count() -> None:
    tracker, store_of = tracker_with({1: (0.0, 0.5)}, cars=30, days=60)
    tracker.record(1, "battery", D0 + timedelta(days=60), 50.0)  # car 1's failing part, found and replaced
    _, with_fault = tracker.calibrate("battery", D0 + timedelta(days=60), model_threshold=3.0, store_of=store_of,
                                      excluded=set())  # fmt: skip
    _, without = tracker.calibrate("battery", D0 + timedelta(days=60), model_threshold=3.0, store_of=store_of,
                                   excluded={1})  # fmt: skip
    assert without[1].store_cars == 29
    assert without[1].budget_threshold <= with_fault[1].budget_threshold
    assert len(tracker.recent["battery"][2]) == 30  # older days dropped from the window
