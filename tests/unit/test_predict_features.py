"""Daily features from aggregate rows, data-quality verdicts, and the per-mode health indexes."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from predict.catalog import FailureMode
from predict.features import (
    NARROWBAND_FRONT_SD_V,
    Features,
    Quality,
    derive,
    judge,
    misfire_features,
    summarise_trips,
)
from predict.modes import INDEXES


def aggregate_row(**overrides: Any) -> dict[str, Any]:
    """One day of a healthy car as the daily SQL returns it (Postgres numerics come back as Decimal)."""
    row: dict[str, Any] = {
        "vehicle_id": 7,
        "day": date(2026, 1, 5),
        "samples": 3000,
        "last_epoch": Decimal("1767639600.250"),
        "driving_samples": 2400,
        "drive_min": 40,
        "impossible": 0,
        "rpm_sd": 420.0,
        "coolant_sd": 11.0,
        "rest_v": 12.6,
        "crank_v": 10.9,
        "cold_start_c": 8.0,
        "air_c": 6.5,
        "charge_v_p10": 14.05,
        "charge_v_high_rpm": 14.3,
        "coolant_max": 93.0,
        "coolant_p90": 91.0,
        "coolant_warm_mean": 88.4,
        "coolant_loaded_p90": 92.0,
        "trim_idle": 2.3,
        "trim_cruise": 1.1,
        "trim_warm": 1.8,
        "o2_ratio": 0.12,
        "o2_samples": 900,
    }
    row.update(overrides)
    return row


def test_crank_sag_is_resting_minus_cranking_voltage() -> None:
    features = derive(aggregate_row(rest_v=12.6, crank_v=10.4))
    assert features["crank_sag_v"] == pytest.approx(2.2)


@pytest.mark.parametrize(
    ("rest", "crank"),
    [(None, 10.4), (12.6, None), (None, None), (12.4, 12.4), (12.4, 12.9)],
)
def test_no_crank_sag_without_a_real_dip(rest: float | None, crank: float | None) -> None:
    assert derive(aggregate_row(rest_v=rest, crank_v=crank))["crank_sag_v"] is None


def test_numbers_from_the_database_become_floats_and_ids_are_dropped() -> None:
    features = derive(aggregate_row())
    assert features["last_epoch"] == pytest.approx(1767639600.25)
    assert isinstance(features["last_epoch"], float)
    assert "vehicle_id" not in features and "day" not in features


def test_missing_aggregates_stay_none() -> None:
    row = aggregate_row(trim_idle=None, o2_ratio=None, charge_v_p10=None)
    del row["coolant_warm_mean"]
    features = derive(row)
    assert features["trim_idle"] is None
    assert features["o2_ratio"] is None
    assert features["charge_v_p10"] is None
    assert features["coolant_warm_mean"] is None
    assert features["trim_warm"] == pytest.approx(1.8)


def with_misfires(day: Features, *counts: float) -> Features:
    """A day with the per-cylinder cycle counts the trips gave, and the misfire picture derived from them."""
    day = day | {f"misfire_c{c}": float(n) for c, n in enumerate(counts, 1)}
    return day | misfire_features(day)


def test_misfires_name_the_worst_cylinder_and_rates_are_per_driving_hour() -> None:
    features = with_misfires(derive(aggregate_row(drive_min=30)), 0, 45, 2, 4)
    assert features["misfire_worst_cyl"] == 2.0
    assert features["misfire_worst_per_h"] == pytest.approx(90.0)  # 45 in half an hour
    assert features["misfire_others_per_h"] == pytest.approx(4.0)  # the middle of 0, 2, 4 per half hour
    assert features["misfire_worst"] == 45.0 and features["misfire_others_mean"] == pytest.approx(2.0)


def test_a_car_without_misfire_monitors_has_no_misfire_features() -> None:
    features = derive(aggregate_row())
    assert misfire_features(features) == {}
    assert features.get("misfire_worst_per_h") is None
    assert features.get("misfire_others_per_h") is None


def test_misfire_rates_without_driving_do_not_divide_by_zero() -> None:
    features = with_misfires(derive(aggregate_row(drive_min=0)), 3, 1)
    assert features["misfire_worst_per_h"] == pytest.approx(180.0)
    assert features["misfire_worst_cyl"] == 1.0


def ok_day(**overrides: float | None) -> Features:
    features: Features = {
        "samples": 3000.0,
        "impossible": 0.0,
        "driving_samples": 2400.0,
        "drive_min": 40.0,
        "rpm_sd": 420.0,
        "coolant_sd": 11.0,
        "rest_v": 12.6,
    }
    features.update(overrides)
    return features


def test_an_ordinary_day_is_ok() -> None:
    assert judge(ok_day()) is Quality.OK


def test_more_than_five_percent_impossible_readings_is_garbage() -> None:
    assert judge(ok_day(impossible=151.0)) is Quality.GARBAGE
    assert judge(ok_day(impossible=150.0)) is Quality.OK  # exactly 5 % is tolerated


def test_a_frozen_rpm_while_driving_is_garbage() -> None:
    assert judge(ok_day(rpm_sd=0.0)) is Quality.GARBAGE
    assert judge(ok_day(driving_samples=10.0, rpm_sd=0.0)) is Quality.OK  # a few idle samples can be flat


def test_a_frozen_coolant_over_a_long_drive_is_garbage() -> None:
    assert judge(ok_day(coolant_sd=0.0)) is Quality.GARBAGE
    assert judge(ok_day(driving_samples=150.0, coolant_sd=0.0)) is Quality.OK  # a short warm drive can be flat


def test_a_day_without_driving_or_parked_voltage_is_sparse() -> None:
    assert judge(ok_day(drive_min=1.0, driving_samples=60.0, rest_v=None)) is Quality.SPARSE
    assert judge({}) is Quality.SPARSE


def test_a_parked_day_with_battery_readings_is_still_worth_scoring() -> None:
    assert judge(ok_day(drive_min=0.0, driving_samples=0.0, rpm_sd=None, coolant_sd=None)) is Quality.OK


# --- health indexes -----------------------------------------------------------------------------------------

HEALTHY: Features = {
    "drive_min": 40.0,
    "driving_samples": 80.0,  # one every 30 s
    "crank_sag_v": 1.6,
    "cold_start_c": 12.0,
    "air_c": 10.0,
    "charge_v_p10": 14.1,
    "coolant_max": 93.0,
    "coolant_warm_mean": 88.0,
    "trim_idle": 2.0,
    "trim_warm": 1.5,
    "warmup_heat_per_k": 40.0,
    "warmup_air_c": 8.0,
    "charge_v_trip": 14.3,
    "charge_air_trip": 10.0,
    "misfire_worst_per_h": 3.0,
    "misfire_others_per_h": 2.0,
    "misfire_worst": 3.0,
    "misfire_others_mean": 2.0,
    "o2_ratio": 0.1,
    "o2_samples": 600.0,
}


def index_of(mode: FailureMode, features: Features) -> float:
    value = INDEXES[mode].index(features)
    assert value is not None, f"{mode} has no index for {features}"
    return value


def test_every_failure_mode_has_a_health_index() -> None:
    assert set(INDEXES) == set(FailureMode)
    assert all(spec.mode is mode and spec.floor > 0 for mode, spec in INDEXES.items())


@pytest.mark.parametrize("mode", list(FailureMode))
def test_a_healthy_day_has_every_index(mode: FailureMode) -> None:
    assert math.isfinite(index_of(mode, HEALTHY))


@pytest.mark.parametrize("mode", list(FailureMode))
def test_no_index_without_its_inputs(mode: FailureMode) -> None:
    spec = INDEXES[mode]
    assert spec.index({}) is None
    assert spec.index(dict.fromkeys(HEALTHY, None)) is None
    assert spec.index(dict.fromkeys(HEALTHY, math.nan)) is None
    if spec.covariate is not None:
        assert spec.covariate({}) is None


@pytest.mark.parametrize(
    ("mode", "change"),
    [
        (FailureMode.BATTERY, {"crank_sag_v": 2.4}),  # the voltage dips deeper while cranking
        (FailureMode.CHARGING_SYSTEM, {"charge_v_trip": 14.1}),  # the alternator regulates lower
        (FailureMode.THERMOSTAT, {"warmup_heat_per_k": 55.0}),  # the warm-up takes more heat per kelvin
        (FailureMode.OVERHEATING, {"coolant_warm_mean": 94.0}),  # the warm engine runs hotter
        (FailureMode.FUEL_LEAN, {"trim_idle": 11.0}),  # the ECU adds fuel at idle
        (FailureMode.FUEL_LEAN, {"trim_idle": None, "trim_warm": 11.0}),  # no idle: the warm trim instead
        (FailureMode.MISFIRE, {"misfire_worst": 40.0}),  # one cylinder misfires more than the others
        (FailureMode.CATALYST, {"o2_ratio": 0.8}),  # the rear O2 swings like the front
    ],
)
def test_each_index_moves_towards_the_fault(mode: FailureMode, change: Features) -> None:
    assert index_of(mode, {**HEALTHY, **change}) > index_of(mode, HEALTHY)


def test_misfire_on_every_cylinder_alike_is_not_one_bad_coil() -> None:
    everywhere = {**HEALTHY, "misfire_worst": 40.0, "misfire_others_mean": 40.0}
    one_cylinder = {**HEALTHY, "misfire_worst": 40.0}
    assert index_of(FailureMode.MISFIRE, everywhere) < index_of(FailureMode.MISFIRE, one_cylinder)


@pytest.mark.parametrize(
    ("mode", "change"),
    [
        (FailureMode.THERMOSTAT, {"warmup_heat_per_k": None}),  # no cold start warmed through 50-80 °C that day
        (FailureMode.OVERHEATING, {"drive_min": 5.0}),
        (FailureMode.MISFIRE, {"drive_min": 5.0}),
        (FailureMode.CATALYST, {"o2_samples": 4.0}),
        (FailureMode.BATTERY, {"crank_sag_v": 0.02}),  # no real crank seen that day
    ],
)
def test_too_little_evidence_gives_no_index(mode: FailureMode, change: Features) -> None:
    assert INDEXES[mode].index({**HEALTHY, **change}) is None


def test_the_textbook_thermostat_rule_reads_the_warm_up_deficit() -> None:
    spec = INDEXES[FailureMode.THERMOSTAT]
    assert spec.textbook(HEALTHY) == 0.0
    assert spec.textbook({**HEALTHY, "coolant_max": 72.0}) == pytest.approx(16.0)
    assert spec.textbook({**HEALTHY, "drive_min": 12.0, "coolant_max": 60.0}) is None  # a short trip is cold anyway


def test_the_battery_covariate_is_the_cold_at_start() -> None:
    spec = INDEXES[FailureMode.BATTERY]
    assert spec.covariate is not None
    assert spec.covariate({**HEALTHY, "cold_start_c": -12.0}) == -12.0
    # a hot restart (the cold start's samples missing) is not "warmer weather": the day's air bounds it
    assert spec.covariate({**HEALTHY, "cold_start_c": 70.0}) == HEALTHY["air_c"]
    assert spec.covariate({**HEALTHY, "cold_start_c": 70.0, "air_c": 31.0}) == 25.0


# --- per-trip features ------------------------------------------------------------------------------------------


def trip_row(**overrides: Any) -> dict[str, Any]:
    """One trip as the trip SQL returns it: a cold start that warmed from 50 to 80 °C on 1,200 full-load revs."""
    row: dict[str, Any] = {
        "vehicle_id": 7,
        "day": date(2026, 1, 5),
        "trip": 1,
        "duration_s": Decimal("1500"),
        "start_c": 12.0,
        "max_c": 89.0,
        "air_c": 8.0,
        "heat_at_from": 400.0,
        "heat_at_to": 1600.0,
        "heat_total": 5200.0,
        "seconds_after_from": 1300.0,
        "volts_high_rpm": 14.42,
        "air_high_rpm": 9.0,
        "revs": 40000.0,
        "warm_samples": 40,
        "warm_c": 88.2,
        "warm_demand": 0.5,
        "lit_n": 0,
        "front_sum": None,
        "front_sq": None,
        "rear_sum": None,
        "rear_sq": None,
    }
    row.update(overrides)
    return row


def lit(front: list[float], rear: list[float]) -> dict[str, Any]:
    """The lit-catalyst O2 sums of a trip, as the trip SQL returns them (`front` empty: no narrowband front)."""
    return {"lit_n": len(rear), "lit_front_n": len(front), "front_sum": sum(front),
            "front_sq": sum(v * v for v in front), "rear_sum": sum(rear),
            "rear_sq": sum(v * v for v in rear)}  # fmt: skip


def test_the_lit_catalyst_o2_ratio_pools_the_swing_within_each_trip() -> None:
    front = [0.1, 0.9] * 3  # the front sensor swings 0.4 V (standard deviation) around 0.5 V
    trips = [trip_row(**lit(front, [0.6, 0.7] * 3)), trip_row(trip=2, **lit(front, [0.2, 0.3] * 3))]
    features = summarise_trips(trips)
    # the rear swings 0.05 V within each trip; that it sat at 0.65 V in one and 0.25 V in the other is no swing
    assert features["o2_ratio_lit"] == pytest.approx(0.05 / 0.4)
    assert features["o2_lit_samples"] == 12.0


def test_without_a_narrowband_front_sensor_the_rear_swing_is_judged_against_a_textbook_front() -> None:
    """A wideband (or no) upstream sensor: its milliamps are no swing in volts; the rear sensor's swing is."""
    features = summarise_trips([trip_row(**lit([], [0.6, 0.7] * 3)), trip_row(trip=2, **lit([], [0.2, 0.3] * 3))])
    assert features["o2_ratio_lit"] == pytest.approx(0.05 / NARROWBAND_FRONT_SD_V)
    assert features["o2_front"] == 0.0


def test_no_lit_catalyst_ratio_from_short_trips() -> None:
    features = summarise_trips([trip_row(), trip_row(trip=2, **lit([0.5], [0.6]))])
    assert features["o2_ratio_lit"] is None and features["o2_lit_samples"] == 0.0


def test_the_catalyst_index_reads_the_lit_ratio_and_only_old_days_fall_back_to_the_warm_one() -> None:
    lit_day = {**HEALTHY, "o2_ratio": 0.7, "o2_ratio_lit": 0.1, "o2_lit_samples": 300.0}
    assert index_of(FailureMode.CATALYST, lit_day) == pytest.approx(0.1)  # short trips' cold catalyst ignored
    assert INDEXES[FailureMode.CATALYST].index({**lit_day, "o2_ratio_lit": None, "o2_lit_samples": 0.0}) is None
    assert index_of(FailureMode.CATALYST, HEALTHY) == pytest.approx(0.1)  # a day kept before the lit ratio


@pytest.mark.parametrize(
    ("every_s", "lit_samples", "scored"),
    [(1, 300, True), (1, 120, False), (30, 10, True), (30, 6, False), (60, 5, True), (60, 3, False), (120, 3, False)],
)
def test_the_catalyst_needs_five_minutes_of_lit_readings_at_any_sampling_rate(
    every_s: int, lit_samples: int, scored: bool
) -> None:
    minutes = 40.0
    day = {**HEALTHY, "drive_min": minutes, "driving_samples": minutes * 60 / every_s, "o2_ratio_lit": 0.1,
           "o2_lit_samples": float(lit_samples)}  # fmt: skip
    assert (INDEXES[FailureMode.CATALYST].index(day) is not None) is scored


def test_warm_up_heat_per_kelvin_is_the_heat_from_50_to_80_degrees_over_30_kelvin() -> None:
    features = summarise_trips([trip_row()])
    assert features["warmup_heat_per_k"] == pytest.approx(1200.0 / 30.0)
    assert features["warmup_air_c"] == 8.0 and features["warmup_trips"] == 1.0


def test_the_day_takes_the_median_warm_up_of_its_trips() -> None:
    trips = [trip_row(heat_at_to=400.0 + 30.0 * h, air_c=a) for h, a in ((40.0, 5.0), (44.0, 7.0), (90.0, 9.0))]
    features = summarise_trips(trips)
    assert features["warmup_heat_per_k"] == pytest.approx(44.0)
    assert features["warmup_air_c"] == 7.0


def test_a_warm_restart_measures_no_warm_up() -> None:
    features = summarise_trips([trip_row(start_c=85.0, heat_at_from=None, heat_at_to=None, seconds_after_from=None)])
    assert features["warmup_heat_per_k"] is None and features["warmup_trips"] == 0.0
    assert features["trips"] == 1.0 and features["charge_v_trip"] == pytest.approx(14.42)


def test_a_long_drive_that_never_reaches_80_degrees_counts_the_heat_it_burnt_after_50() -> None:
    stuck = trip_row(heat_at_to=None, max_c=72.0, heat_total=4000.0, seconds_after_from=1300.0)
    assert summarise_trips([stuck])["warmup_heat_per_k"] == pytest.approx((4000.0 - 400.0) / 30.0)
    short = trip_row(heat_at_to=None, max_c=72.0, heat_total=900.0, seconds_after_from=120.0)
    assert summarise_trips([short])["warmup_heat_per_k"] is None  # parked again before it could warm


def test_the_regulated_voltage_pairs_with_the_air_of_the_same_minutes() -> None:
    trips = [trip_row(volts_high_rpm=v, air_high_rpm=a) for v, a in ((14.40, 10.0), (14.30, 18.0), (14.50, 2.0))]
    features = summarise_trips(trips)
    assert features["charge_v_trip"] == pytest.approx(14.40)
    assert features["charge_air_trip"] == 10.0
    assert features["revs"] == pytest.approx(120000.0)


def test_the_warm_demand_is_weighted_by_the_warm_samples_of_each_trip() -> None:
    trips = [trip_row(warm_samples=30, warm_demand=0.4), trip_row(warm_samples=10, warm_demand=0.8)]
    assert summarise_trips(trips)["warm_demand"] == pytest.approx(0.5)
    cold = trip_row(warm_samples=0, warm_demand=None)
    assert summarise_trips([cold])["warm_demand"] is None


def test_a_day_without_trips_has_no_trip_features() -> None:
    features = summarise_trips([])
    assert features["trips"] == 0.0
    assert all(
        features[k] is None for k in ("revs", "warmup_heat_per_k", "charge_v_trip", "charge_air_trip", "warm_demand")
    )


def test_more_heat_per_kelvin_of_warm_up_points_to_a_stuck_open_thermostat() -> None:
    spec = INDEXES[FailureMode.THERMOSTAT]
    healthy = {**HEALTHY, "warmup_heat_per_k": 40.0, "warmup_air_c": 5.0}
    stuck = {**healthy, "warmup_heat_per_k": 52.0}
    assert index_of(FailureMode.THERMOSTAT, stuck) - index_of(FailureMode.THERMOSTAT, healthy) == pytest.approx(
        math.log(52.0 / 40.0)
    )
    assert spec.covariate is not None and spec.covariate(healthy) == 5.0
    assert spec.textbook({**healthy, "coolant_max": 72.0}) == pytest.approx(16.0)  # the textbook rule reads 88 °C


def test_the_charging_index_is_the_highest_voltage_the_system_regulated_to() -> None:
    """A conventional alternator holds ~14.3 V; a smart one sits at 12.8 V at cruise with a full battery but
    charges at 14.6 V after each start: both are healthy, and neither reads as a weak alternator."""
    spec = INDEXES[FailureMode.CHARGING_SYSTEM]
    conventional = {**HEALTHY, "charge_v_early": 14.28, "charge_v_peak": 14.33, "charge_v_trip": 14.31}
    smart = {**HEALTHY, "charge_v_early": 14.6, "charge_v_peak": 13.0, "charge_v_trip": 12.8, "charge_v_high_rpm": 12.8}
    assert index_of(FailureMode.CHARGING_SYSTEM, conventional) == pytest.approx(-14.33)
    assert index_of(FailureMode.CHARGING_SYSTEM, smart) == pytest.approx(-14.6)
    assert spec.covariate is not None and spec.covariate(smart) == HEALTHY["air_c"]
    assert spec.textbook(smart) == pytest.approx(-12.8)  # the textbook rule is fooled by the smart alternator
    never_ran = {**HEALTHY, "charge_v_early": None, "charge_v_peak": None}
    assert spec.index(never_ran) is None


def test_days_kept_before_the_charging_voltage_features_read_the_regulated_voltage() -> None:
    assert index_of(FailureMode.CHARGING_SYSTEM, {**HEALTHY, "charge_v_trip": 14.31}) == pytest.approx(-14.31)
    assert index_of(FailureMode.CHARGING_SYSTEM, {**HEALTHY, "charge_v_trip": None, "charge_v_high_rpm": 14.2}) == (
        pytest.approx(-14.2)
    )
