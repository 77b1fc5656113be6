"""The fleet plan and the ECU monitors: ground truth the evaluation can trust, codes a mechanic expects."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from predict.catalog import FailureMode
from simulators.climate import Weather
from simulators.dtc_logic import Verdict
from simulators.faults import DURATION_DAYS
from simulators.monitors import TripStats, verdicts
from simulators.scenario import FleetPlan, build_fleet, ground_truth
from simulators.vehicle import VehicleSim

PLAN = FleetPlan(seed=3, vehicles=70, start=date(2026, 1, 5), days=120)


def test_the_fleet_is_seeded_and_every_mode_is_injected_evenly() -> None:
    cars = build_fleet(PLAN)
    assert cars == build_fleet(PLAN) and cars != build_fleet(FleetPlan(seed=4, vehicles=70, start=PLAN.start, days=120))
    modes = Counter(f.mode for c in cars for f in c.faults)
    assert set(modes) == set(FailureMode) and max(modes.values()) - min(modes.values()) <= 1
    assert sum(1 for c in cars if c.faults) == 35
    assert len({c.vin for c in cars}) == len({c.device_id for c in cars}) == 70
    assert any(c.spec.unsupported for c in cars) and any("e10_fuel" in c.confounders for c in cars)


def test_ground_truth_lies_inside_the_period_after_a_healthy_start() -> None:
    cars = build_fleet(PLAN)
    start, end = PLAN.start_at, PLAN.start_at + timedelta(days=PLAN.days)
    for car in cars:
        for fault in car.faults:
            high = DURATION_DAYS[fault.mode][1]
            assert start + timedelta(days=10) <= fault.onset < fault.failure <= end
            assert fault.failure - fault.onset <= timedelta(days=high)
            assert fault.repaired is not None and fault.failure < fault.repaired
            assert fault.severity(fault.repaired + timedelta(hours=1)) == 0.0  # the part was replaced
    assert len(ground_truth(cars)) == sum(len(c.faults) for c in cars)


def test_a_car_never_reports_two_samples_at_the_same_instant() -> None:
    for car in build_fleet(FleetPlan(seed=102, vehicles=12, start=PLAN.start, days=20)):
        sim = VehicleSim(car.spec, Weather(car.region, car.seed), list(car.faults), car.seed)
        stamps = [r.ts for d in range(20) for r in sim.day(PLAN.start + timedelta(days=d), sample_every_s=30, step_s=5)]
        assert len(stamps) == len(set(stamps)), car.index
        assert stamps == sorted(stamps)


def _trip(**changes: object) -> TripStats:
    stats = TripStats(start_coolant_c=10.0)
    stats.step(minutes=20.0, coolant_c=90.0, rpm=2000.0, volts=14.2, total_trim_pct=2.0)
    for _ in range(30):
        stats.o2(0.1, 0.65, 500.0)
        stats.o2(0.85, 0.66, 500.0)
    stats.misfires_per_1000 = {1: 0.1, 2: 0.2, 3: 0.0, 4: 0.1}
    for key, value in changes.items():
        setattr(stats, key, value)
    return stats


def test_a_healthy_trip_passes_every_monitor() -> None:
    results = verdicts(_trip())
    assert set(results) >= {"P0128", "P0217", "P0562", "P0171", "P0420", "P0300", "P0301"}
    assert set(results.values()) == {Verdict.PASS}


def test_each_failing_part_fails_its_own_monitor_only() -> None:
    cases = {
        "P0128": _trip(max_coolant_c=60.0),
        "P0217": _trip(max_coolant_c=118.0),
        "P0562": _trip(min_charging_v=12.1),
        "P0171": _trip(max_total_trim_pct=25.0),
        "P0302": _trip(misfires_per_1000={1: 0.1, 2: 45.0, 3: 0.0, 4: 0.1}),
    }
    for code, stats in cases.items():
        failed = {c for c, v in verdicts(stats).items() if v is Verdict.FAIL}
        assert failed == {code}, (code, failed)


def test_monitors_that_need_conditions_do_not_run_on_a_short_or_warm_trip() -> None:
    short = verdicts(_trip(minutes=3.0, start_coolant_c=80.0))
    assert "P0128" not in short and "P0217" not in short and "P0562" not in short
