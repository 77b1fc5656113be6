"""Scoring alerts against ground truth, and the reactive-DTC and fixed-threshold baselines."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from predict.catalog import FailureMode
from predict.evaluation import (
    Fault,
    RaisedAlert,
    fixed_threshold_baseline,
    oracle_alerts,
    reactive_baseline,
    reliability,
    score_alerts,
)
from predict.features import Features, Quality, VehicleDay

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
D0 = date(2026, 3, 1)
BATTERY = FailureMode.BATTERY
ONSET = T0
FAILURE = T0 + timedelta(days=30)
FAULT = Fault(1, BATTERY, ONSET, FAILURE)
# 761 vehicles over 40 days is exactly 1,000 vehicle-months (30.44 days each)
VEHICLES, DAYS = 761, 40


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def alert(days: float, *, vehicle_id: int = 1, mode: FailureMode = BATTERY) -> RaisedAlert:
    return RaisedAlert(vehicle_id, mode, at(days))


def battery_score(alerts: list[RaisedAlert], faults: list[Fault] | None = None) -> tuple[int, int, int, int]:
    s = score_alerts(alerts, [FAULT] if faults is None else faults, vehicles=VEHICLES, days=DAYS)[BATTERY]
    return s.alerts, s.true_alerts, s.caught, s.false_alerts


@pytest.mark.parametrize(("when", "lead"), [(-3, 33.0), (0, 30.0), (20, 10.0), (29, 1.0)])
def test_an_alert_from_three_days_before_onset_to_a_day_before_failure_catches_it(when: float, lead: float) -> None:
    scores = score_alerts([alert(when)], [FAULT], vehicles=VEHICLES, days=DAYS)[BATTERY]
    assert (scores.alerts, scores.true_alerts, scores.caught, scores.false_alerts) == (1, 1, 1, 0)
    assert scores.leads_days == pytest.approx((lead,))
    assert scores.recall == 1.0 and scores.precision == 1.0


@pytest.mark.parametrize("when", [29.5, 30, 33])
def test_a_late_alert_is_right_but_does_not_catch_the_failure(when: float) -> None:
    assert battery_score([alert(when)]) == (1, 1, 0, 0)


@pytest.mark.parametrize("when", [-3.1, -10, 33.1, 60])
def test_an_alert_far_from_the_fault_is_false(when: float) -> None:
    assert battery_score([alert(when)]) == (1, 0, 0, 1)


def test_the_first_alert_in_the_window_sets_the_lead() -> None:
    scores = score_alerts([alert(25), alert(10), alert(-20)], [FAULT], vehicles=VEHICLES, days=DAYS)[BATTERY]
    assert scores.leads_days == pytest.approx((20.0,))
    assert (scores.true_alerts, scores.false_alerts) == (2, 1)


def test_wrong_mode_or_healthy_vehicle_alerts_are_false_and_normalised_per_1000_vehicle_months() -> None:
    raised = [alert(5, mode=FailureMode.MISFIRE), alert(5, vehicle_id=2), alert(6, vehicle_id=3)]
    scores = score_alerts(raised, [FAULT], vehicles=VEHICLES, days=DAYS)
    assert scores[BATTERY].false_alerts == 2 and scores[BATTERY].caught == 0
    assert scores[BATTERY].false_per_1000_vm == pytest.approx(2.0)
    assert scores[FailureMode.MISFIRE].false_alerts == 1
    assert scores[FailureMode.MISFIRE].faults == 0 and scores[FailureMode.MISFIRE].recall is None
    assert scores[None].false_per_1000_vm == pytest.approx(3.0)
    assert score_alerts(raised, [], vehicles=VEHICLES, days=2 * DAYS)[None].false_per_1000_vm == pytest.approx(1.5)


def test_no_alerts_means_no_precision_and_zero_false_rate() -> None:
    scores = score_alerts([], [FAULT], vehicles=VEHICLES, days=DAYS)[BATTERY]
    assert scores.precision is None and scores.recall == 0.0 and scores.false_per_1000_vm == 0.0
    assert scores.median_lead is None and scores.p10_lead is None


def test_the_overall_row_sums_the_modes() -> None:
    faults = [
        FAULT,
        Fault(2, FailureMode.MISFIRE, at(0), at(20)),
        Fault(3, FailureMode.CATALYST, at(10), at(50)),
    ]
    raised = [alert(10), alert(15, vehicle_id=2, mode=FailureMode.MISFIRE), alert(70, vehicle_id=3,
              mode=FailureMode.CATALYST), alert(5, vehicle_id=9, mode=FailureMode.FUEL_LEAN)]  # fmt: skip
    scores = score_alerts(raised, faults, vehicles=VEHICLES, days=DAYS)
    per_mode = [s for mode, s in scores.items() if mode is not None]
    overall = scores[None]
    for field in ("alerts", "true_alerts", "faults", "caught", "false_alerts"):
        assert getattr(overall, field) == sum(getattr(s, field) for s in per_mode), field
    assert (overall.alerts, overall.true_alerts, overall.faults, overall.caught) == (4, 2, 3, 2)
    assert sorted(overall.leads_days) == [pytest.approx(5.0), pytest.approx(20.0)]
    assert overall.recall == pytest.approx(2 / 3) and overall.precision == pytest.approx(0.5)


def test_median_and_p10_lead() -> None:
    faults = [Fault(v, BATTERY, at(0), at(40)) for v in range(1, 12)]
    raised = [alert(40 - lead, vehicle_id=v) for v, lead in zip(range(1, 12), range(2, 24, 2), strict=True)]
    scores = score_alerts(raised, faults, vehicles=VEHICLES, days=DAYS)[BATTERY]
    assert scores.caught == 11
    assert scores.median_lead == pytest.approx(12.0)  # leads 2, 4, ..., 22
    assert scores.p10_lead == pytest.approx(4.0)  # a tenth of the failures had less warning than this


def test_the_days_to_failure_error_is_that_of_the_first_catching_alert() -> None:
    faults = [Fault(v, BATTERY, at(0), at(30)) for v in (1, 2, 3, 4)]
    raised = [
        RaisedAlert(1, BATTERY, at(10), days_to_failure=15.0),  # told day 25, failed day 30: 5 days off
        RaisedAlert(1, BATTERY, at(20), days_to_failure=10.0),  # a later estimate does not count
        RaisedAlert(2, BATTERY, at(5), days_to_failure=40.0),  # told day 45: 15 days off
        RaisedAlert(3, BATTERY, at(12)),  # raised without an estimate: no error to score
        RaisedAlert(4, BATTERY, at(29.5), days_to_failure=1.0),  # too late to catch: not scored
        RaisedAlert(9, BATTERY, at(5), days_to_failure=3.0),  # a false alert: not scored
    ]
    scores = score_alerts(raised, faults, vehicles=VEHICLES, days=DAYS)[BATTERY]
    assert sorted(scores.eta_errors_days) == [pytest.approx(5.0), pytest.approx(15.0)]
    assert scores.median_eta_error == pytest.approx(10.0)
    assert score_alerts([alert(10)], [FAULT], vehicles=VEHICLES, days=DAYS)[BATTERY].median_eta_error is None


# --- baselines ---------------------------------------------------------------------------------------------


def vday(n: int, features: Features | None = None, *, vehicle_id: int = 1, quality: Quality = Quality.OK,
         pending: tuple[str, ...] = (), stored: tuple[str, ...] = ()) -> VehicleDay:  # fmt: skip
    return VehicleDay(vehicle_id, D0 + timedelta(days=n), features or {}, quality, pending, stored)


def end_of(n: int) -> datetime:
    return datetime.combine(D0 + timedelta(days=n), time(23, 59), UTC)


def test_reactive_alerts_on_a_stored_confirming_dtc_not_a_pending_one() -> None:
    days = [
        vday(1, pending=("P0171",)),
        vday(2, stored=("P0171",)),
        vday(3, stored=("P0171",)),
        vday(4, vehicle_id=2, stored=("P0303",)),
        vday(5, vehicle_id=3, stored=("P0700",)),  # a transmission code confirms none of our modes
    ]
    assert reactive_baseline(days) == [
        RaisedAlert(1, FailureMode.FUEL_LEAN, end_of(2)),
        RaisedAlert(2, FailureMode.MISFIRE, end_of(4)),
    ]


def test_reactive_alerts_on_a_failed_start_for_the_battery() -> None:
    days = [vday(1, {"crank_v": 9.6}), vday(2, {"crank_v": 8.2}), vday(3, {"crank_v": 7.9}), vday(4, {})]
    assert reactive_baseline(days) == [RaisedAlert(1, BATTERY, end_of(2))]


def test_reactive_alerts_again_only_after_a_quiet_fortnight() -> None:
    stored = ("P0128",)
    days = [vday(n, stored=stored) for n in (0, 1, 2, 14, 29, 30)]
    assert [a.at for a in reactive_baseline(days)] == [end_of(0), end_of(29)]


def sag(volts: float) -> Features:
    return {"crank_sag_v": volts}


def test_fixed_threshold_needs_two_of_three_days_over_the_limit() -> None:
    over, under = sag(3.9), sag(2.0)  # textbook limit: the voltage dips 3.6 V or more while cranking
    assert fixed_threshold_baseline([vday(0, over), vday(1, under), vday(2, under)]) == []
    assert fixed_threshold_baseline([vday(0, over), vday(1, under), vday(2, over)]) == [
        RaisedAlert(1, BATTERY, end_of(2))
    ]
    assert fixed_threshold_baseline([vday(0, over), vday(1, over)]) == [RaisedAlert(1, BATTERY, end_of(1))]


def test_fixed_threshold_raises_one_alert_per_episode_and_again_after_a_quiet_gap() -> None:
    over, under = sag(3.9), sag(2.0)
    first = [vday(n, over) for n in range(10)]
    quiet = [vday(n, under) for n in range(10, 25)]
    second = [vday(n, over) for n in range(25, 28)]
    alerts = fixed_threshold_baseline(first + quiet + second)
    assert [a.at for a in alerts] == [end_of(1), end_of(26)]
    short_break = first + [vday(n, under) for n in range(10, 15)] + [vday(n, over) for n in range(15, 18)]
    assert [a.at for a in fixed_threshold_baseline(short_break)] == [end_of(1)]


def test_fixed_threshold_ignores_garbage_days_and_other_cars_days() -> None:
    days = [
        vday(0, sag(3.9), quality=Quality.GARBAGE),
        vday(1, sag(3.9), quality=Quality.GARBAGE),
        vday(1, sag(3.9), vehicle_id=2),
        vday(2, sag(2.0), vehicle_id=3),
        vday(3, sag(3.9), vehicle_id=3),
    ]
    assert fixed_threshold_baseline(days) == []


def test_fixed_threshold_reads_each_mode_against_its_own_limit() -> None:
    low_charge: Features = {"charge_v_p10": 12.9}
    days = [vday(n, low_charge, vehicle_id=5) for n in range(3)] + [vday(n, {"charge_v_p10": 14.1}) for n in range(3)]
    assert fixed_threshold_baseline(days) == [RaisedAlert(5, FailureMode.CHARGING_SYSTEM, end_of(1))]


def test_fixed_threshold_reads_the_textbook_quantity_not_the_detectors_index() -> None:
    # a cold engine on a 40-minute day: the textbook rule (hottest coolant 15 °C below 88) fires, whatever
    # the warm-up heat per kelvin the detector reads
    cold: Features = {"drive_min": 40.0, "coolant_max": 70.0, "warmup_heat_per_k": 30.0}
    assert fixed_threshold_baseline([vday(0, cold), vday(1, cold)]) == [
        RaisedAlert(1, FailureMode.THERMOSTAT, end_of(1))
    ]
    warm: Features = {"drive_min": 40.0, "coolant_max": 90.0, "warmup_heat_per_k": 90.0}
    assert fixed_threshold_baseline([vday(0, warm), vday(1, warm)]) == []


# --- the oracle (a ceiling) ----------------------------------------------------------------------------


def start_of(n: int) -> datetime:
    """The data time of a day kept without its last sample's time."""
    return datetime.combine(D0 + timedelta(days=n), time.min, UTC)


def linear_damage(when: datetime) -> float:
    """FAULT's severity growing linearly from onset (day 0, noon) to failure (day 30, noon)."""
    return min(1.0, max(0.0, (when - ONSET) / (FAILURE - ONSET)))


def test_the_oracle_alerts_on_the_first_reading_from_three_days_before_onset() -> None:
    days = [vday(n, sag(2.0)) for n in (-10, -2, 1, 5)]  # driven long before onset, just before, then days 1, 5
    assert oracle_alerts(days, [(FAULT, linear_damage)]) == [RaisedAlert(1, BATTERY, start_of(-2))]
    assert oracle_alerts(days, [(FAULT, linear_damage)], level=0.01) == [RaisedAlert(1, BATTERY, start_of(1))]
    # a fifth of the way to failure is day 6, but the car is next driven on day 5 (0.15), then never
    assert oracle_alerts(days, [(FAULT, linear_damage)], level=0.2) == []
    later = [*days, vday(12, sag(2.0))]
    assert oracle_alerts(later, [(FAULT, linear_damage)], level=0.2) == [RaisedAlert(1, BATTERY, start_of(12))]


def test_the_oracle_alerts_at_the_data_time_of_the_days_last_sample() -> None:
    last_sample = T0 + timedelta(days=1, hours=6)
    days = [vday(1, {**sag(2.0), "last_epoch": last_sample.timestamp()})]
    assert oracle_alerts(days, [(FAULT, linear_damage)]) == [RaisedAlert(1, BATTERY, last_sample)]


def test_the_oracle_needs_a_valid_reading_of_the_mode_on_a_good_day() -> None:
    days = [
        vday(1, {"charge_v_p10": 14.1}),  # another mode's reading: no cranking sag that day
        vday(2, sag(2.0), quality=Quality.GARBAGE),
        vday(3, sag(2.0), vehicle_id=2),  # another car
        vday(4, sag(2.0)),
    ]
    assert oracle_alerts(days, [(FAULT, linear_damage)]) == [RaisedAlert(1, BATTERY, start_of(4))]


def test_the_oracle_of_a_car_not_driven_before_failure_catches_nothing() -> None:
    days = [vday(-20, sag(2.0)), vday(30, sag(2.0))]  # parked from before onset to the day of failure
    raised = oracle_alerts(days, [(FAULT, linear_damage)])
    scores = score_alerts(raised, [FAULT], vehicles=VEHICLES, days=DAYS)[BATTERY]
    assert (scores.caught, scores.true_alerts, scores.false_alerts) == (0, 1, 0)


def test_the_reliability_table_sets_stated_confidence_against_observed_precision() -> None:
    onset = datetime(2026, 3, 1, tzinfo=UTC)
    faults = [Fault(v, FailureMode.BATTERY, onset, onset + timedelta(days=20)) for v in range(1, 10)]
    at = onset + timedelta(days=5)
    raised = [RaisedAlert(v, FailureMode.BATTERY, at, None, 0.92) for v in range(1, 10)]  # nine real
    raised += [RaisedAlert(99, FailureMode.BATTERY, at, None, 0.95)]  # one false
    raised += [
        RaisedAlert(98, FailureMode.MISFIRE, at, None, 0.45),
        RaisedAlert(97, FailureMode.MISFIRE, at, None, None),
    ]
    bins = reliability(raised, faults)
    assert [(b.low, b.alerts, b.true_alerts) for b in bins] == [(0.4, 1, 0), (0.9, 10, 9)]
    assert bins[1].mean_confidence == pytest.approx((9 * 0.92 + 0.95) / 10) and bins[1].precision == 0.9
