"""The detector: a vehicle's index against its own early baseline, persistence, trend and cohort shift."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import pytest

from predict.detect import (
    MIN_BASELINE_DAYS,
    MIN_COHORT_CARS,
    YOUNG_BASELINE_DAYS,
    ModeParams,
    Point,
    Prior,
    Score,
    cohort_prior,
    cohort_shift,
    days_to_failure,
    score,
)

D0 = date(2026, 1, 1)
FLOOR = 0.06
PARAMS = ModeParams(threshold=4.0, failure_z=15.0)


def day(n: int) -> date:
    return D0 + timedelta(days=n)


def noisy(days: int, *, level: float = 1.0, noise: float = 0.02, seed: int = 1) -> list[Point]:
    rng = random.Random(seed)
    return [Point(day(n), level + rng.gauss(0.0, noise), None) for n in range(days)]


def scored(points: list[Point], n: int, params: ModeParams = PARAMS, floor: float = FLOOR) -> Score:
    result = score(points, day(n), params, floor=floor)
    assert result is not None
    return result


def test_a_healthy_car_with_ordinary_noise_stays_near_zero_and_never_persists() -> None:
    points = noisy(90)
    for n in range(40, 90):
        s = scored(points, n)
        assert abs(s.z) < 1.5
        assert not s.persistent


def test_a_step_change_after_a_clean_baseline_is_high_and_persistent() -> None:
    points = noisy(40) + [Point(day(n), 1.5 + 0.01 * (n % 2), None) for n in range(40, 46)]
    s = scored(points, 45)
    assert s.z > 2 * PARAMS.threshold  # 0.5 above baseline against a 0.06 floor
    assert s.persistent
    assert s.baseline == pytest.approx(1.0, abs=0.02)


def test_a_single_odd_day_is_not_persistent_and_does_not_raise_the_level() -> None:
    points = noisy(45)
    points[-1] = Point(day(44), 3.0, None)  # one wild day on the scored day itself
    s = scored(points, 44)
    assert not s.persistent
    assert s.z < PARAMS.threshold


def test_two_of_the_last_three_days_high_is_persistent() -> None:
    points = noisy(45)
    points[-3] = Point(day(42), 1.6, None)
    points[-1] = Point(day(44), 1.6, None)
    assert scored(points, 44).persistent


def test_too_little_history_gives_no_score() -> None:
    # Baseline window ends 7 days before the scored day: days 0..n are baseline, then 7 more days.
    enough = noisy(MIN_BASELINE_DAYS + 7)
    too_few = enough[1:]  # one baseline day short
    assert score(enough, enough[-1].day, PARAMS, floor=FLOOR) is not None
    assert score(too_few, too_few[-1].day, PARAMS, floor=FLOOR) is None


def test_a_fleet_prior_stands_in_for_a_baseline_the_vehicle_does_not_have_yet() -> None:
    """A car driven once a week, or fitted with a dongle while already misfiring, is scored against the
    healthy fleet's index until it has its own baseline; then its own baseline takes over."""
    with_prior = ModeParams(threshold=4.0, failure_z=15.0, prior_centre=1.0, prior_scale=0.05)
    weekly = [Point(day(7 * n), 1.0, None) for n in range(4)] + [Point(day(28), 1.6, None), Point(day(35), 1.6, None)]
    assert score(weekly, day(35), PARAMS, floor=FLOOR) is None  # no prior: not scored for two months
    s = score(weekly, day(35), with_prior, floor=FLOOR)
    assert s is not None and s.baseline_from == "fleet"
    assert s.baseline == 1.0 and s.scale == pytest.approx(0.06)  # never below the index's floor
    assert s.z == pytest.approx(10.0) and s.persistent
    healthy_weekly = [*weekly[:4], Point(day(28), 1.01, None), Point(day(35), 0.99, None)]
    assert (h := score(healthy_weekly, day(35), with_prior, floor=FLOOR)) is not None and abs(h.z) < 1.0
    daily = noisy(MIN_BASELINE_DAYS + 7, level=2.0)  # enough own history: its own level is the baseline
    own = score(daily, daily[-1].day, with_prior, floor=FLOOR)
    assert own is not None and own.baseline_from == "own" and own.baseline == pytest.approx(2.0, abs=0.05)


def test_one_day_of_history_gives_no_score_even_with_a_fleet_prior() -> None:
    with_prior = ModeParams(threshold=4.0, prior_centre=1.0, prior_scale=0.05)
    assert score([Point(day(0), 5.0, None)], day(0), with_prior, floor=FLOOR) is None


def test_a_day_without_data_is_not_scored() -> None:
    points = noisy(60)
    missing = [p for p in points if p.day != day(50)]
    assert score(missing, day(50), PARAMS, floor=FLOOR) is None
    assert score(points, day(70), PARAMS, floor=FLOOR) is None  # long after the last point


def test_points_in_any_order_score_the_same() -> None:
    points = noisy(40) + [Point(day(n), 1.5, None) for n in range(40, 46)]
    shuffled = points[:]
    random.Random(3).shuffle(shuffled)
    assert scored(shuffled, 45) == scored(points, 45)


def test_later_days_are_ignored_when_scoring_an_earlier_day() -> None:
    points = noisy(50) + [Point(day(n), 5.0, None) for n in range(50, 60)]
    assert abs(scored(points, 49).z) < 1.5


def test_a_known_confounder_is_removed_when_the_slope_matches() -> None:
    """index = a + slope * covariate: the cold moves the index; a matching slope takes it out."""
    slope = -0.03
    rng = random.Random(5)
    points = []
    for n in range(60):
        cold = 20.0 if n < 45 else -10.0  # a warm autumn, then a cold snap
        points.append(Point(day(n), 1.0 + slope * cold + rng.gauss(0.0, 0.01), cold))
    naive = scored(points, 59, ModeParams(threshold=4.0))
    fitted = scored(points, 59, ModeParams(threshold=4.0, slope=slope, covariate_ref=10.0))
    assert naive.z > 10 and naive.persistent  # 0.9 of pure weather would look like a failing part
    assert abs(fitted.z) < 1.0 and not fitted.persistent


def test_the_scale_never_goes_below_the_floor() -> None:
    points = [Point(day(n), 1.0, None) for n in range(40)] + [Point(day(n), 1.12, None) for n in range(40, 43)]
    s = scored(points, 42)
    assert s.scale == FLOOR
    assert s.z == pytest.approx(2.0)  # 0.12 above a perfectly flat baseline is two floors, not infinity


def test_a_noisy_car_gets_a_wider_scale_than_the_floor() -> None:
    s = scored(noisy(60, noise=0.3), 59)
    assert s.scale > 3 * FLOOR


def test_a_young_baseline_is_given_at_least_the_typical_spread_until_it_has_enough_days() -> None:
    flat = [Point(day(n), 1.0 + 0.001 * (n % 2), None) for n in range(40)]
    bump = [Point(day(n), 1.3, None) for n in (40, 41, 42)]
    young = flat[36 - MIN_BASELINE_DAYS :] + bump  # on day 42 a baseline of MIN_BASELINE_DAYS days (up to day 35)
    s = score(young, day(42), PARAMS, floor=FLOOR, typical_spread=0.2)
    assert s is not None and s.scale == pytest.approx(0.2) and s.z == pytest.approx(1.5, abs=0.01)
    assert s.own_spread == FLOOR  # what the cohort pools stays the car's own
    assert scored(young, 42).z == pytest.approx(5.0, abs=0.05)  # without it: the floor
    mature = flat[36 - YOUNG_BASELINE_DAYS :] + bump  # a baseline of YOUNG_BASELINE_DAYS days
    s = score(mature, day(42), PARAMS, floor=FLOOR, typical_spread=0.2)
    assert s is not None and s.scale == FLOOR  # its own spread, however tight
    wide = score(young[:-3] + [Point(day(n), 3.0, None) for n in (40, 41, 42)], day(42), PARAMS, floor=FLOOR,
                 typical_spread=0.01)  # fmt: skip
    assert wide is not None and wide.scale == FLOOR  # never below the floor or the car's own spread


def test_the_baseline_comes_from_the_earliest_days_so_a_slow_fault_does_not_hide_itself() -> None:
    points = noisy(30) + [Point(day(n), 1.0 + 0.01 * (n - 30), None) for n in range(30, 120)]
    s = scored(points, 119)
    assert s.baseline == pytest.approx(1.0, abs=0.03)
    assert s.z > 10
    assert s.persistent


def test_a_rising_trend_is_extrapolated_to_failure() -> None:
    points = noisy(40, noise=0.0) + [Point(day(n), 1.0 + 0.01 * (n - 39), None) for n in range(40, 60)]
    s = scored(points, 59)
    assert s.trend_per_day is not None
    assert s.trend_per_day == pytest.approx(1 / 6, rel=0.01)  # 0.01 per day on a 0.06 scale
    eta = days_to_failure(s, PARAMS)
    assert eta is not None
    # level 1.19 today (z = 3.17 on a 0.06 scale), rising 1/6 z a day, taken to grow exponentially at
    # 1/6 / 3.17 = 5.3 % a day: z 15 is ln(15 / 3.17) / 0.053 = 29.6 days away (a straight line: 71)
    assert eta == pytest.approx(math.log(PARAMS.failure_z / s.z) * s.z / s.trend_per_day)
    assert eta == pytest.approx(29.6, abs=1.0)


def test_a_flat_series_has_no_days_to_failure() -> None:
    s = scored(noisy(60), 59)
    assert days_to_failure(s, PARAMS) is None


@pytest.mark.parametrize(
    ("z", "trend", "expected"),
    [
        (5.0, 0.5, 10.99),  # ln(15 / 5) * 5 / 0.5
        (5.0, None, None),
        (0.0, 0.5, None),  # no deviation yet: nothing to extrapolate
        (5.0, 0.0, None),
        (5.0, -1.0, None),
        (15.0, None, 1.0),  # at the failure level
        (22.0, -0.3, 1.0),  # past it
        (5.0, 0.02, 180.0),  # a very slow drift is capped at half a year
        (14.9, 5.0, 1.0),  # never less than a day
    ],
)
def test_days_to_failure(z: float, trend: float | None, expected: float | None) -> None:
    s = Score(day(0), z, 0.0, 0.0, 1.0, True, trend)
    eta = days_to_failure(s, ModeParams(failure_z=15.0))
    assert eta == (None if expected is None else pytest.approx(expected, abs=0.01))


def test_a_cohort_too_small_to_tell_has_no_shift() -> None:
    assert cohort_shift({1: 4.0, 2: 4.0, 3: 4.0, 4: 4.0}) == 0.0
    assert cohort_shift({}) == 0.0


def test_the_cohort_shift_is_the_median_move_bounded() -> None:
    assert cohort_shift({1: 1.0, 2: 2.0, 3: 2.5, 4: 9.0, 5: -1.0}) == 2.0  # one failing car does not drag it
    assert cohort_shift({v: 8.0 for v in range(6)}) == 3.0
    assert cohort_shift({v: -8.0 for v in range(6)}) == -3.0
    assert cohort_shift({v: 1.0 for v in range(4)}, minimum=3) == 1.0


def test_a_cohort_prior_is_the_median_car_with_the_spread_between_cars_added() -> None:
    baselines = [(1.0, 0.06), (1.1, 0.08), (0.9, 0.06), (1.05, 0.07), (3.0, 0.5)]  # one odd car does not move it
    prior = cohort_prior(baselines)
    assert prior is not None and prior.source == "cohort"
    assert prior.centre == pytest.approx(1.05)
    between = 1.4826 * 0.05  # median distance of the centres from 1.05
    assert prior.scale == pytest.approx(math.hypot(between, 0.07))
    assert cohort_prior(baselines[: MIN_COHORT_CARS - 1]) is None


def test_a_car_without_its_own_baseline_is_scored_against_a_given_prior_and_its_own_baseline_wins() -> None:
    recent = [Point(day(n), 1.5, None) for n in (0, 1, 2)]  # a car fitted with a dongle three days ago
    assert score(recent, day(2), PARAMS, floor=FLOOR) is None
    s = score(recent, day(2), PARAMS, floor=FLOOR, prior=Prior(1.0, 0.1, "cohort"))
    assert s is not None and s.baseline_from == "cohort"
    assert s.z == pytest.approx(5.0) and s.persistent
    own = scored(noisy(40) + [Point(day(n), 1.5, None) for n in (40, 41, 42)], 42)
    with_prior = score(noisy(40) + [Point(day(n), 1.5, None) for n in (40, 41, 42)], day(42), PARAMS, floor=FLOOR,
                       prior=Prior(5.0, 1.0, "cohort"))  # fmt: skip
    assert with_prior == own and own.baseline_from == "own"
