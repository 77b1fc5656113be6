"""The scoring engine over a small synthetic store fleet: findings, cohort shifts, data quality, odd histories."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import pytest

from predict.catalog import FailureMode
from predict.detect import ModeParams
from predict.engine import COHORT_THRESHOLD_FACTOR, EVIDENCE_DAYS, LIMIT_THRESHOLD_FACTOR, Cohort, Engine, Finding
from predict.features import Features, Quality, VehicleDay
from predict.model import Model, untrained
from predict.modes import INDEXES

D0 = date(2026, 1, 1)
DAYS = 60
FLEET = [1, 2, 3, 4, 5, 6]
STORE = {v: 10 for v in FLEET}
SICK = 4
MODEL = Model("test-1", {m: ModeParams(threshold=3.0, failure_z=12.0) for m in FailureMode})


def day(n: int) -> date:
    return D0 + timedelta(days=n)


def epoch(n: int, vehicle_id: int) -> float:
    return datetime.combine(day(n), time(17, vehicle_id), UTC).timestamp()


def healthy(vehicle_id: int, n: int, rng: random.Random) -> Features:
    """One ordinary driving day, with the keys predict.modes reads and realistic day-to-day noise."""
    return {
        "last_epoch": epoch(n, vehicle_id),
        "samples": 3000.0,
        "driving_samples": 2400.0,
        "drive_min": 40.0 + rng.uniform(0, 20),
        "rest_v": 12.6,
        "crank_sag_v": 1.6 * math.exp(rng.gauss(0.0, 0.02)),
        "cold_start_c": 8.0 + rng.gauss(0.0, 2.0),
        "air_c": 8.0 + rng.gauss(0.0, 2.0),
        "charge_v_p10": 14.1 + rng.gauss(0.0, 0.03),
        "coolant_max": 93.0 + rng.gauss(0.0, 1.0),
        "coolant_warm_mean": 88.0 + rng.gauss(0.0, 0.15),
        "warm_demand": 0.5 + rng.gauss(0.0, 0.05),
        "warmup_heat_per_k": 40.0 * math.exp(rng.gauss(0.0, 0.05)),
        "warmup_air_c": 8.0 + rng.gauss(0.0, 2.0),
        "charge_v_trip": 14.3 + rng.gauss(0.0, 0.01),
        "charge_air_trip": 8.0 + rng.gauss(0.0, 2.0),
        "trim_idle": 2.0 + rng.gauss(0.0, 0.3),
        "trim_warm": 1.5 + rng.gauss(0.0, 0.3),
        "misfire_worst_per_h": 3.0 + rng.uniform(0, 0.5),
        "misfire_others_per_h": 2.0 + rng.uniform(0, 0.5),
        "misfire_worst": 3.0 + rng.randint(0, 2),
        "misfire_others_mean": 2.0 + rng.uniform(0, 0.5),
        "o2_ratio": 0.1 + rng.gauss(0.0, 0.01),
        "o2_samples": 600.0,
    }


def fleet_days(*, seed: int = 11, sick: bool = False, cold_snap: range | None = None) -> list[VehicleDay]:
    """Six cars over 60 days; optionally car 4's crank sag grows after day 30, or a cold snap hits them all."""
    rng = random.Random(seed)
    out = []
    for n in range(DAYS):
        for vehicle_id in FLEET:
            features = healthy(vehicle_id, n, rng)
            sag = features["crank_sag_v"]
            assert sag is not None
            if sick and vehicle_id == SICK and n > 30:
                features["crank_sag_v"] = sag * math.exp(0.03 * (n - 30))
            if cold_snap is not None and n in cold_snap:
                features["crank_sag_v"] = sag * 1.3
                features["cold_start_c"] = -15.0
            out.append(VehicleDay(vehicle_id, day(n), features, Quality.OK))
    return out


def run(
    days: list[VehicleDay],
    *,
    model: Model = MODEL,
    store_of: dict[int, int] = STORE,
    cohort_of: dict[int, Cohort] | None = None,
) -> list[Finding]:
    """Feed the days one data day at a time as the replay does; return every finding of every day."""
    engine = Engine(model, store_of, cohort_of=cohort_of or {})
    findings = []
    for n in range(DAYS):
        for vday in (d for d in days if d.day == day(n)):
            engine.add(vday)
        findings += engine.score_day(day(n))
    return findings


def test_a_healthy_store_raises_nothing() -> None:
    assert run(fleet_days()) == []
    assert run(fleet_days(seed=12), model=untrained()) == []


def test_a_growing_crank_sag_raises_a_battery_finding_for_that_car_only() -> None:
    findings = run(fleet_days(sick=True))
    assert findings, "the weakening battery went unnoticed"
    assert {(f.vehicle_id, f.mode) for f in findings} == {(SICK, FailureMode.BATTERY)}
    first = min(findings, key=lambda f: f.day)
    assert day(33) <= first.day <= day(42)  # within days of the sag starting to grow, not at the end
    assert first.z >= MODEL.mode(FailureMode.BATTERY).threshold


def test_a_battery_finding_carries_its_evidence() -> None:
    findings = run(fleet_days(sick=True))
    last = max(findings, key=lambda f: f.day)
    assert last.day == day(DAYS - 1)
    assert last.observed_at == datetime.fromtimestamp(epoch(DAYS - 1, SICK), UTC)
    evidence = last.evidence
    assert evidence["model_version"] == "test-1"
    assert evidence["threshold_z"] == 3.0
    assert evidence["baseline"] == pytest.approx(math.log(1.6), abs=0.03)  # the car's own healthy sag
    assert evidence["level"] == pytest.approx(math.log(1.6) + 0.03 * 28, abs=0.05)
    series = evidence["series"]
    assert isinstance(series, list)
    assert len(series) == EVIDENCE_DAYS
    assert [s["day"] for s in series] == [day(n).isoformat() for n in range(DAYS - EVIDENCE_DAYS, DAYS)]
    assert 0.0 < last.confidence <= 1.0
    assert last.severity == "critical"  # z far past twice the threshold
    assert last.days_to_failure is not None and last.days_to_failure >= 1.0


def test_a_cold_snap_across_the_store_is_not_a_failing_battery() -> None:
    days = fleet_days(cold_snap=range(45, 52))
    assert run(days) == []
    # The same cold snap on cars that each stand alone (no cohort to compare with) does look like a fault:
    alone = {v: 100 + v for v in FLEET}
    assert {f.mode for f in run(days, store_of=alone)} == {FailureMode.BATTERY}


def test_a_failing_battery_is_still_found_during_a_cold_snap() -> None:
    findings = run(fleet_days(sick=True, cold_snap=range(45, 52)))
    assert {(f.vehicle_id, f.mode) for f in findings} == {(SICK, FailureMode.BATTERY)}
    assert any(day(45) <= f.day < day(52) for f in findings)


def test_garbage_days_are_a_data_quality_issue_not_a_fault() -> None:
    rng = random.Random(3)
    engine = Engine(MODEL, STORE)
    for n in range(DAYS):
        wild = healthy(1, n, rng)
        wild["crank_sag_v"] = 1.6 if n < 30 else 9.0  # impossible readings that look like a dead battery
        wild["charge_v_p10"] = 14.1 if n < 30 else 3.0
        engine.add(VehicleDay(1, day(n), wild, Quality.GARBAGE))
        engine.add(VehicleDay(2, day(n), healthy(2, n, rng), Quality.OK))
        assert engine.score_day(day(n)) == []
    assert engine.data_quality_issues(day(DAYS - 1)) == [1]
    assert engine.all_scores(day(DAYS - 1)).keys() == {(2, mode) for mode in FailureMode}


def test_a_single_bad_day_is_not_a_data_quality_issue() -> None:
    rng = random.Random(4)
    engine = Engine(MODEL, STORE)
    for n in range(10):
        engine.add(VehicleDay(1, day(n), healthy(1, n, rng), Quality.GARBAGE if n == 8 else Quality.OK))
    assert engine.data_quality_issues(day(9)) == []


def test_a_car_with_one_day_of_history_is_not_scored() -> None:
    engine = Engine(MODEL, STORE)
    features = healthy(1, 0, random.Random(1))
    features["crank_sag_v"] = 5.0
    engine.add(VehicleDay(1, day(0), features, Quality.OK))
    assert engine.score_day(day(0)) == []
    assert engine.all_scores(day(0)) == {}
    assert engine.score_day(day(1)) == []  # nor on a day it has no data


def test_a_car_driven_with_gaps_of_weeks_raises_nothing() -> None:
    rng = random.Random(5)
    engine = Engine(MODEL, STORE)
    driven = [*range(0, 10), *range(30, 33), *range(55, 60), *range(100, 102)]
    for n in driven:
        engine.add(VehicleDay(1, day(n), healthy(1, n, rng), Quality.OK))
        assert engine.score_day(day(n)) == []
    assert engine.all_scores(day(31)) != {}  # still scored against its early baseline after three weeks away


def test_days_added_out_of_order_raise_nothing_and_do_not_crash() -> None:
    days = [d for d in fleet_days() if d.vehicle_id == 1]
    random.Random(6).shuffle(days)
    engine = Engine(MODEL, STORE)
    for vday in days:
        engine.add(vday)
    for n in range(DAYS):
        assert engine.score_day(day(n)) == []


def sick_engine() -> tuple[Engine, list[VehicleDay]]:
    days = fleet_days(sick=True)
    engine = Engine(MODEL, STORE)
    for vday in days:
        engine.add(vday)
    return engine, days


def battery_finding(engine: Engine, n: int) -> Finding | None:
    found = [f for f in engine.score_day(day(n)) if f.vehicle_id == SICK and f.mode is FailureMode.BATTERY]
    return found[0] if found else None


def test_re_adding_a_day_replaces_it() -> None:
    engine, days = sick_engine()
    last = day(DAYS - 1)
    assert battery_finding(engine, DAYS - 1) is not None
    rng = random.Random(8)
    for n in range(DAYS - 3, DAYS):  # the last three days recomputed: the readings were a loose clamp
        engine.add(VehicleDay(SICK, day(n), healthy(SICK, n, rng), Quality.OK))
    assert battery_finding(engine, DAYS - 1) is None
    engine.add(next(d for d in days if d.vehicle_id == SICK and d.day == last))  # the last day back as it was
    assert battery_finding(engine, DAYS - 1) is None  # one high day of the last three is not persistent
    series = engine.points[(SICK, FailureMode.BATTERY)]
    assert len(series) == DAYS and len({p.day for p in series}) == DAYS


def test_re_adding_an_earlier_day_keeps_the_car_scored_on_later_days() -> None:
    engine, days = sick_engine()
    assert battery_finding(engine, DAYS - 1) is not None
    engine.add(next(d for d in days if d.vehicle_id == SICK and d.day == day(20)))  # an old day recomputed as-is
    assert battery_finding(engine, DAYS - 1) is not None


def test_re_adding_one_garbage_day_is_still_one_garbage_day() -> None:
    rng = random.Random(9)
    engine = Engine(MODEL, STORE)
    for n in range(9):
        engine.add(VehicleDay(1, day(n), healthy(1, n, rng), Quality.OK))
    bad = VehicleDay(1, day(9), healthy(1, 9, rng), Quality.GARBAGE)
    for _ in range(3):
        engine.add(bad)  # the same day recomputed as more of its data landed
    assert engine.data_quality_issues(day(9)) == []


# --- cohort baselines ------------------------------------------------------------------------------------

NEWCOMER = 7
COHORT: dict[int, Cohort] = {v: (10, "byd", "qin plus", "1.5l") for v in [*FLEET, NEWCOMER]}


def newcomer_days(sag_v: float, *, from_day: int = 50, covariate: bool = True) -> list[VehicleDay]:
    """A car fitted with a dongle on `from_day` (no baseline of its own before the run ends)."""
    rng = random.Random(NEWCOMER)
    out = []
    for n in range(from_day, DAYS):
        features = healthy(NEWCOMER, n, rng)
        features["crank_sag_v"] = sag_v * math.exp(rng.gauss(0.0, 0.02))
        if not covariate:
            features["cold_start_c"] = features["air_c"] = None
        out.append(VehicleDay(NEWCOMER, day(n), features, Quality.OK))
    return out


def run_cohort(days: list[VehicleDay], cohort_of: dict[int, Cohort]) -> list[Finding]:
    return run(days, store_of={**STORE, NEWCOMER: 10}, cohort_of=cohort_of)


def test_a_car_with_no_history_yet_is_compared_with_its_cohort() -> None:
    weak = newcomer_days(2.6)  # cranking sags 1 V more than its cohort's 1.6 V from the first day
    findings = run_cohort(fleet_days() + weak, COHORT)
    assert {(f.vehicle_id, f.mode) for f in findings} == {(NEWCOMER, FailureMode.BATTERY)}
    first = min(findings, key=lambda f: f.day)
    assert first.day == day(51)  # its second day: two recent days are needed
    assert first.evidence["baseline_from"] == "cohort"
    assert first.evidence["baseline"] == pytest.approx(math.log(1.6), abs=0.03)
    assert first.evidence["threshold_z"] == pytest.approx(3.0 * COHORT_THRESHOLD_FACTOR)
    # without a cohort the car waits for its own baseline: nothing within the run
    assert run_cohort(fleet_days() + weak, {}) == []


def test_a_healthy_newcomer_is_not_flagged_against_its_cohort() -> None:
    assert run_cohort(fleet_days() + newcomer_days(1.65), COHORT) == []


def test_a_cohort_prior_needs_enough_cars_of_the_same_model_and_comparable_readings() -> None:
    weak = newcomer_days(2.6)
    other_model: dict[int, Cohort] = {**COHORT, NEWCOMER: (10, "byd", "han", "2.0t")}
    assert run_cohort(fleet_days() + weak, other_model) == []
    few: dict[int, Cohort] = {v: c for v, c in COHORT.items() if v in (1, 2, 3, NEWCOMER)}  # three cars are no cohort
    assert run_cohort(fleet_days() + weak, few) == []
    # a car whose air temperature is not read cannot be adjusted for the cold like its cohort: not scored
    assert run_cohort(fleet_days() + newcomer_days(2.6, covariate=False), COHORT) == []


def test_a_car_fitted_while_its_battery_was_failing_is_judged_against_its_cohort_too() -> None:
    # fitted on day 10 with its cranking sag already 0.4 V above its cohort's and growing 0.4 % a day: its own
    # baseline (days 10-39) holds the fault, so against itself it only drifts, never reaching the threshold
    rng = random.Random(NEWCOMER)
    failing = []
    for n in range(10, DAYS):
        features = healthy(NEWCOMER, n, rng)
        features["crank_sag_v"] = 2.0 * math.exp(0.004 * (n - 10) + rng.gauss(0.0, 0.02))
        failing.append(VehicleDay(NEWCOMER, day(n), features, Quality.OK))
    findings = run_cohort(fleet_days() + failing, COHORT)
    late = [f for f in findings if f.day >= day(40)]  # once it has its own baseline
    assert late and {(f.vehicle_id, f.mode) for f in late} == {(NEWCOMER, FailureMode.BATTERY)}
    assert all(f.evidence["baseline_from"] == "cohort" for f in late)
    assert all(f.evidence["threshold_z"] == pytest.approx(3.0 * COHORT_THRESHOLD_FACTOR) for f in late)
    alone = run_cohort(fleet_days() + failing, {})  # without a cohort, its own baseline hides the fault
    assert all(f.vehicle_id != NEWCOMER for f in alone if f.day >= day(40))


def test_a_car_that_always_differed_from_its_cohort_but_does_not_change_raises_nothing() -> None:
    rng = random.Random(NEWCOMER)
    steady = []
    for n in range(DAYS):
        features = healthy(NEWCOMER, n, rng)
        features["crank_sag_v"] = 2.6 * math.exp(rng.gauss(0.0, 0.02))  # a smaller battery fitted: steady
        steady.append(VehicleDay(NEWCOMER, day(n), features, Quality.OK))
    assert run_cohort(fleet_days() + steady, COHORT) == []


def test_a_car_that_reads_no_air_temperature_is_adjusted_for_the_season_by_its_morning_coolant() -> None:
    # winter into spring: -20 °C to +10 °C over the run; every regulator lowers its set point 0.01 V per
    # kelvin (the model's learned slope). Car 7 reads neither ambient nor intake air.
    model = Model("test-season", {**MODEL.params, FailureMode.CHARGING_SYSTEM: ModeParams(
        threshold=3.0, failure_z=12.0, slope=0.01, covariate_ref=0.0)})  # fmt: skip
    rng = random.Random(21)
    days = []
    for n in range(DAYS):
        air = -20.0 + 30.0 * n / DAYS
        for vehicle_id in [*FLEET, NEWCOMER]:
            features = healthy(vehicle_id, n, rng)
            volts = 14.4 - 0.01 * air + rng.gauss(0.0, 0.01)
            features.update(charge_v_trip=volts, charge_air_trip=air, air_c=air, cold_start_c=air - 2.0)
            if vehicle_id == NEWCOMER:
                features.update(charge_air_trip=None, air_c=None, warmup_air_c=None)
            days.append(VehicleDay(vehicle_id, day(n), features, Quality.OK))
    findings = run(days, model=model, store_of={**STORE, NEWCOMER: 10})
    assert [f for f in findings if f.mode is FailureMode.CHARGING_SYSTEM] == []
    # the same car after a warm restart only (no cold crank that day): no covariate rather than a wrong one
    warm = {**days[-1].features, "cold_start_c": 70.0}
    covariate = INDEXES[FailureMode.CHARGING_SYSTEM].covariate
    assert covariate is not None and covariate(warm) is None


def with_o2_ratio(vehicle_id: int, ratio: Callable[[int], float]) -> list[VehicleDay]:
    """The store's fleet, with car `vehicle_id`'s rear/front O2 ratio set by `ratio(day)` (+ noise)."""
    rng = random.Random(31)
    days = fleet_days()
    for i, vday in enumerate(days):
        if vday.vehicle_id == vehicle_id:
            n = (vday.day - D0).days
            days[i] = VehicleDay(vehicle_id, vday.day, {**vday.features, "o2_ratio": ratio(n) + rng.gauss(0.0, 0.01)},
                                 Quality.OK)  # fmt: skip
    return days


def test_a_catalyst_failing_from_the_first_days_is_found_once_past_the_textbook_limit() -> None:
    # the dongle was fitted as the catalyst began to fail: its own baseline (days 0-29) spans 0.1 to 0.55,
    # so against itself the ratio only drifts (z < 3), but it is past the textbook 0.5 and still rising
    def failing(n: int) -> float:
        return 0.1 + 0.45 * min(n, 30) / 30 + 0.003 * max(0, n - 30)

    findings = [f for f in run(with_o2_ratio(3, failing)) if f.mode is FailureMode.CATALYST]
    assert findings and {f.vehicle_id for f in findings} == {3}
    first = min(findings, key=lambda f: f.day)
    assert first.z < MODEL.mode(FailureMode.CATALYST).threshold  # not an alert against its own baseline alone
    assert first.evidence["textbook_limit"] == 0.5 and first.evidence["baseline_from"] == "own"
    assert first.evidence["threshold_z"] == pytest.approx(3.0 * LIMIT_THRESHOLD_FACTOR)
    level = first.evidence["level"]
    assert isinstance(level, float) and level >= 0.5


def test_a_catalyst_that_always_read_past_the_limit_but_does_not_change_raises_nothing() -> None:
    # odd sensors: a healthy car whose ratio has always been 0.6; the limit alone never raises an alert
    assert [f for f in run(with_o2_ratio(3, lambda n: 0.6)) if f.mode is FailureMode.CATALYST] == []


def young_tight_newcomer(seed: int) -> list[VehicleDay]:
    """A store whose cars' cranking sag wanders by a quarter from day to day (cold mornings, short hops). The
    newcomer, fitted on day 20, sagged the same 1.6 V on each of its first eight days by chance, then wanders
    like the rest; it is scored until day 40, while its baseline has fewer than 15 days."""
    rng = random.Random(seed)
    days = []
    for n in range(DAYS):
        for vehicle_id in [*FLEET, NEWCOMER]:
            if vehicle_id == NEWCOMER and not 20 <= n <= 40:
                continue
            features = healthy(vehicle_id, n, rng)
            wander = 0.004 if vehicle_id == NEWCOMER and n < 28 else 0.25
            features["crank_sag_v"] = 1.6 * math.exp(rng.gauss(0.0, wander))
            features["cold_start_c"] = 8.0
            days.append(VehicleDay(vehicle_id, day(n), features, Quality.OK))
    return days


def test_a_young_baseline_that_happened_to_be_tight_is_no_tighter_than_its_cohorts_typical_car() -> None:
    fleets = [young_tight_newcomer(seed) for seed in range(10)]
    # alone in its store and without a cohort, eight tight days are its whole yardstick: its ordinary
    # wander alerts on several of these fleets
    alone = [run(days, store_of={**STORE, NEWCOMER: 99}) for days in fleets]
    assert sum(any(f.vehicle_id == NEWCOMER for f in findings) for findings in alone) >= 3
    # with a cohort (or a store of five cars) its scale is at least the typical car's: never
    for findings in [run_cohort(days, COHORT) for days in fleets] + [run_cohort(days, {}) for days in fleets]:
        assert not any(f.vehicle_id == NEWCOMER for f in findings)


def test_a_young_car_lends_its_cohort_its_own_spread_not_the_widened_one() -> None:
    # pooling the widened scale would ratchet the cohort's typical spread up with every young car
    engine = Engine(MODEL, {**STORE, NEWCOMER: 10}, cohort_of=COHORT)
    for n in range(41):
        for vday in (d for d in young_tight_newcomer(0) if d.day == day(n)):
            engine.add(vday)
        engine.score_day(day(n))
    scores = engine.all_scores(day(40))
    _, s = scores[(NEWCOMER, FailureMode.BATTERY)]
    assert s.scale > 2 * INDEXES[FailureMode.BATTERY].floor  # widened to the cohort's typical car
    own = engine.baselines[(NEWCOMER, FailureMode.BATTERY)][1]
    assert own == s.own_spread < s.scale  # pooled: its own spread, not the widened one


def test_a_car_whose_part_was_just_replaced_waits_for_its_own_baseline_not_its_cohorts() -> None:
    """The newcomer always cranks 1 V deeper than its cohort (a bigger engine's battery, say). After a
    confirmed repair its history before is another part's; compared with its cohort meanwhile, it would be
    alerted, 'repaired' and alerted again. It waits for a baseline of its own instead."""
    always_different = newcomer_days(2.6, from_day=0)
    engine = Engine(MODEL, {**STORE, NEWCOMER: 10}, cohort_of=COHORT)
    engine.repaired[(NEWCOMER, FailureMode.BATTERY)] = day(40)
    flagged = []
    for n in range(DAYS):
        for vday in (d for d in [*fleet_days(), *always_different] if d.day == day(n)):
            engine.add(vday)
        flagged += [f for f in engine.score_day(day(n)) if f.vehicle_id == NEWCOMER and n > 40]
    assert flagged == []
    assert all(s.baseline_from == "own" for (v, m), (_, s) in engine.all_scores(day(DAYS - 1)).items()
               if v == NEWCOMER)  # fmt: skip
