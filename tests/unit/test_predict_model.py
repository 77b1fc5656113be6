"""Model files (save, load, the shipped one) and training on a tiny synthetic fleet."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

import predict.model
from predict.catalog import FailureMode
from predict.detect import ModeParams
from predict.engine import Engine
from predict.evaluation import Fault
from predict.features import Features, Quality, VehicleDay
from predict.model import Model, shipped, untrained
from predict.train import FLEET_ID_STRIDE, MIN_THRESHOLD, TrainingFleet, fit_slopes, fleet_priors, merge_fleets, train

D0 = date(2026, 1, 1)


def day(n: int) -> date:
    return D0 + timedelta(days=n)


def sample_model(version: str = "pitcall-2026.01.15a") -> Model:
    return Model(
        version=version,
        params={
            FailureMode.BATTERY: ModeParams(
                threshold=3.4, slope=-0.0165, covariate_ref=6.6, failure_z=13.8, prior_precision=0.83
            ),
            FailureMode.MISFIRE: ModeParams(threshold=4.2),
        },
        trained_on={"from": "2025-09-01", "to": "2025-12-31", "vehicles": 120, "faults": 14},
        metrics={"battery": {"healthy_z_max": 2.9, "healthy_z_q999": None}},
    )


def test_a_saved_model_loads_back_unchanged(tmp_path: Path) -> None:
    model = sample_model()
    path = model.save(tmp_path / "m.json")
    assert Model.load(path) == model
    loaded = Model.load(path)
    assert loaded.mode(FailureMode.BATTERY).slope == -0.0165
    assert loaded.mode(FailureMode.CATALYST) == ModeParams()  # modes it does not name get the defaults
    assert loaded.mode(FailureMode.BATTERY).prior_precision == 0.83


def test_a_model_file_of_before_the_prior_precision_loads_with_an_uninformed_prior(tmp_path: Path) -> None:
    """Files of models up to 2026.12.06a carry a logistic calibration, and no prior precision."""
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"version": "old", "params": {"battery": {"threshold": 3.0}},
                                "calibration": {"battery": {"intercept": -2.0, "z_coef": 2.0}}}))  # fmt: skip
    old = Model.load(path)
    assert old.mode(FailureMode.BATTERY).threshold == 3.0 and old.mode(FailureMode.BATTERY).prior_precision == 0.5


def test_shipped_loads_the_newest_model_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(predict.model, "MODELS_DIR", tmp_path)
    assert shipped() == untrained()
    for version in ("pitcall-2026.01.15a", "pitcall-2026.02.01a", "pitcall-2026.01.20b"):
        sample_model(version).save(tmp_path / f"{version}.json")
    assert shipped().version == "pitcall-2026.02.01a"


def test_the_model_in_the_repository_covers_every_mode() -> None:
    model = shipped()
    assert model.version != "untrained"
    assert set(model.params) == set(FailureMode)
    assert all(p.threshold >= MIN_THRESHOLD and p.failure_z > p.threshold for p in model.params.values())


# --- training ---------------------------------------------------------------------------------------------


def healthy(vehicle_id: int, n: int, rng: random.Random, *, air: float) -> Features:
    """An ordinary day; the charging voltage sags 0.01 V per °C warmer (a real confounder)."""
    return {
        "last_epoch": datetime.combine(day(n), time(18), UTC).timestamp(),
        "drive_min": 45.0,
        "crank_sag_v": (1.4 + 0.05 * vehicle_id) * math.exp(rng.gauss(0.0, 0.02)),
        "cold_start_c": air + 2.0,
        "air_c": air,
        "charge_v_p10": 14.0 + 0.04 * vehicle_id - 0.01 * air + rng.gauss(0.0, 0.02),
        "coolant_max": 93.0 + rng.gauss(0.0, 1.0),
        "coolant_warm_mean": 88.0 + rng.gauss(0.0, 0.15),
        "trim_idle": 2.0 + rng.gauss(0.0, 0.3),
        "misfire_worst_per_h": 3.0 + rng.uniform(0, 0.5),
        "misfire_others_per_h": 2.0 + rng.uniform(0, 0.5),
        "o2_ratio": 0.1 + rng.gauss(0.0, 0.01),
        "o2_samples": 600.0,
    }


def fleet(*, days: int = 60, sick: int | None = None, seed: int = 21) -> tuple[list[VehicleDay], list[Fault]]:
    """Six cars of one store; each vehicle has its own climate (a between-car confound); car 2's battery has
    an odd but harmless few days (a cold garage while the owner was away); `sick`'s battery sag grows from
    day 30 and fails on day 55."""
    rng = random.Random(seed)
    out = []
    for vehicle_id in range(1, 7):
        for n in range(days):
            air = 5.0 * vehicle_id + 8.0 * math.sin(n / 6) + rng.gauss(0.0, 2.0)
            features = healthy(vehicle_id, n, rng, air=air)
            if vehicle_id == 2 and 40 <= n <= 42:
                sag = features["crank_sag_v"]
                assert sag is not None
                features["crank_sag_v"] = sag * math.exp(0.24)
            if vehicle_id == sick and n > 30:
                sag = features["crank_sag_v"]
                assert sag is not None
                features["crank_sag_v"] = sag * math.exp(0.04 * (n - 30))
                features["charge_v_p10"] = 11.0  # wild values that must not leak into the healthy slope
            out.append(VehicleDay(vehicle_id, day(n), features, Quality.OK))
    faults = []
    if sick is not None:
        onset = datetime.combine(day(31), time(0), UTC)
        faults.append(Fault(sick, FailureMode.BATTERY, onset, onset + timedelta(days=24)))
        faults.append(Fault(sick, FailureMode.CHARGING_SYSTEM, onset, onset + timedelta(days=24)))
    return out, faults


def test_fit_slopes_recovers_the_weather_slope_within_each_car() -> None:
    days, faults = fleet(sick=3)
    slopes = fit_slopes(days, faults)
    slope, reference = slopes[FailureMode.CHARGING_SYSTEM]
    assert slope == pytest.approx(0.01, abs=0.002)  # index is -volts: warmer air, lower voltage, higher index
    healthy_air = [d.features["air_c"] for d in days if d.vehicle_id != 3]
    assert reference == pytest.approx(sum(a for a in healthy_air if a is not None) / len(healthy_air))
    assert set(slopes) == {FailureMode.BATTERY, FailureMode.CHARGING_SYSTEM, FailureMode.THERMOSTAT,
                           FailureMode.OVERHEATING}  # fmt: skip
    assert slopes[FailureMode.BATTERY][0] == pytest.approx(0.0, abs=0.003)  # no cold effect was simulated


def test_fit_slopes_ignores_garbage_days_and_cars_with_too_few_days() -> None:
    days, faults = fleet()
    spoiled = [
        VehicleDay(d.vehicle_id, d.day, {**d.features, "charge_v_p10": 5.0}, Quality.GARBAGE)
        if d.day.day % 3 == 0
        else d
        for d in days
    ]
    few = [VehicleDay(99, day(n), {"air_c": float(n), "charge_v_p10": 14.0 - n}, Quality.OK) for n in range(9)]
    slope, _ = fit_slopes(spoiled + few, faults)[FailureMode.CHARGING_SYSTEM]
    assert slope == pytest.approx(0.01, abs=0.002)


def test_the_misfire_fleet_prior_is_the_healthy_cars_index() -> None:
    """Healthy cars: the worst cylinder misfires 6 times a day, give or take one, against its siblings' 3
    (index log(9 / 6)); car 5 misfires badly and is left out because it has a misfire fault."""
    rng = random.Random(5)
    days = []
    for vehicle_id in range(1, 7):
        for n in range(40):
            worst = 500.0 if vehicle_id == 5 else 6.0 + rng.choice((-1.0, 0.0, 1.0))
            features: Features = {"drive_min": 45.0, "misfire_worst": worst, "misfire_others_mean": 3.0}
            days.append(VehicleDay(vehicle_id, day(n), features, Quality.GARBAGE if n == 0 else Quality.OK))
    onset = datetime.combine(day(10), time(0), UTC)
    faults = [Fault(5, FailureMode.MISFIRE, onset, onset + timedelta(days=20))]
    priors = fleet_priors(days, faults, {m: ModeParams() for m in FailureMode})
    assert set(priors) == {FailureMode.MISFIRE}  # only the index that compares a car with itself within a day
    centre, spread = priors[FailureMode.MISFIRE]
    assert centre == pytest.approx(math.log(1.5))
    assert 0.1 < spread < 0.3  # 1.4826 x MAD of {log 8/6, log 9/6, log 10/6}
    model = train(days, faults, {v: 1 for v in range(1, 7)}, version="t", data_range=(day(0), day(39)))
    assert model.mode(FailureMode.MISFIRE).prior_centre == pytest.approx(math.log(1.5), abs=1e-4)
    assert model.mode(FailureMode.BATTERY).prior_centre is None


def test_train_sets_usable_thresholds_and_prior_precisions_for_every_mode() -> None:
    days, faults = fleet(sick=4)
    store_of = {v: 1 for v in range(1, 7)}
    model = train(days, faults, store_of, version="test-train", data_range=(day(0), day(59)))
    assert model.version == "test-train"
    assert set(model.params) == set(FailureMode)
    for mode, params in model.params.items():
        assert params.threshold >= MIN_THRESHOLD, mode
        assert params.failure_z > params.threshold, mode
    assert model.params[FailureMode.CHARGING_SYSTEM].slope == pytest.approx(0.01, abs=0.002)
    battery_metrics = model.metrics["battery"]
    assert isinstance(battery_metrics, dict)
    assert battery_metrics["positive_days_above_threshold"] > 0
    healthy_max = battery_metrics["healthy_z_max"]
    assert isinstance(healthy_max, float) and healthy_max > 3.0  # car 2's harmless episode
    level = battery_metrics["healthy_budget_level"]
    assert isinstance(level, float) and level < healthy_max  # one car's episode in a dozen car-months is not the law
    assert model.params[FailureMode.BATTERY].threshold == max(MIN_THRESHOLD, round(level, 3))
    # the failing battery and car 2's harmless episode were alerted: one of two real, as a Beta(1, 1) posterior
    assert model.params[FailureMode.BATTERY].prior_precision == pytest.approx(2 / 4, abs=1e-3)
    assert model.params[FailureMode.THERMOSTAT].prior_precision == pytest.approx(0.5)  # no alert: no information
    assert model.trained_on == {"from": "2026-01-01", "to": "2026-03-01", "vehicles": 6, "faults": 2}


def test_a_trained_model_flags_the_failing_car_and_not_the_healthy_ones() -> None:
    days, faults = fleet(sick=4)
    store_of = {v: 1 for v in range(1, 7)}
    model = train(days, faults, store_of, version="test-train", data_range=(day(0), day(59)))
    engine = Engine(model, store_of)
    flagged = set()
    for n in range(60):
        for vday in (d for d in days if d.day == day(n)):
            engine.add(vday)
        flagged |= {(f.vehicle_id, f.mode) for f in engine.score_day(day(n))}
    assert (4, FailureMode.BATTERY) in flagged
    # car 2's harmless cold-garage days too: one car-month in a dozen is no law a threshold can be fitted to
    # (a fleet this small gets no budget of its own either); its battery is all else that is flagged
    assert flagged - {(4, FailureMode.BATTERY), (4, FailureMode.CHARGING_SYSTEM)} <= {(2, FailureMode.BATTERY)}


def test_fleets_from_several_databases_train_as_one_with_their_ids_kept_apart() -> None:
    """Two evaluation databases number their cars and stores from 1 alike: merged, neither fleet's car 4
    is mistaken for the other's, and each store stays its own cohort."""
    fleets = []
    for sick, seed in ((4, 21), (5, 22)):
        days, faults = fleet(sick=sick, seed=seed)
        fleets.append(TrainingFleet(days, faults, {v: 1 for v in range(1, 7)},
                                    {v: (1, "toyota", "corolla", "1.2t") for v in range(1, 7)}))  # fmt: skip
    merged = merge_fleets(fleets)
    assert len({d.vehicle_id for d in merged.days}) == 12 and len(merged.days) == 2 * 6 * 60
    assert {(f.vehicle_id, f.mode) for f in merged.faults} == {
        (4, FailureMode.BATTERY), (4, FailureMode.CHARGING_SYSTEM),
        (5 + FLEET_ID_STRIDE, FailureMode.BATTERY), (5 + FLEET_ID_STRIDE, FailureMode.CHARGING_SYSTEM),
    }  # fmt: skip
    assert merged.store_of[4] == 1 and merged.store_of[4 + FLEET_ID_STRIDE] == 1 + FLEET_ID_STRIDE
    assert merged.cohort_of[4 + FLEET_ID_STRIDE] == (1 + FLEET_ID_STRIDE, "toyota", "corolla", "1.2t")
    model = train(merged.days, merged.faults, merged.store_of, version="two-fleets", data_range=(day(0), day(59)),
                  cohort_of=merged.cohort_of)  # fmt: skip
    assert model.trained_on["vehicles"] == 12 and model.trained_on["faults"] == 4
