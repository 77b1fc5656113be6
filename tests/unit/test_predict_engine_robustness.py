"""One unusual car never stops scoring for the others: extreme and non-finite features, extreme scores."""

from __future__ import annotations

import math
import random
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from predict.catalog import FailureMode
from predict.detect import ModeParams
from predict.engine import Engine
from predict.features import Quality, VehicleDay
from tests.unit.test_predict_engine import DAYS, FLEET, MODEL, STORE, day, fleet_days, healthy

ODD = 9  # the unusual car, in the same store as the healthy fleet
FEATURE_KEYS = sorted(healthy(1, 0, random.Random(0)))
extreme = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, 1e6, -1e6, 1e7, math.inf, -math.inf, math.nan]),
    st.none(),
)


def scored_vehicles(engine: Engine, n: int) -> set[int]:
    return {v for v, _ in engine.all_scores(day(n))}


def test_an_extreme_score_gives_a_finite_confidence_and_eta() -> None:
    """The crash seen on an independent fleet: math.exp(-logit) of one car's extreme score (engine.py:266
    of 2026.12.06a). A sag that grows a thousandfold in days gives a finding, not an overflow."""
    days = fleet_days(sick=True)
    extreme = [replace(d, features={**d.features, "crank_sag_v": 1e5}) if d.vehicle_id == 4 and d.day >= day(40)
               else d for d in days]  # fmt: skip
    engine = Engine(MODEL, STORE)
    findings = []
    for n in range(DAYS):
        for vday in (d for d in extreme if d.day == day(n)):
            engine.add(vday)
        findings += engine.score_day(day(n))
    assert findings and all(0.0 <= f.confidence <= 1.0 and math.isfinite(f.z) for f in findings)
    assert all(f.days_to_failure is None or 1.0 <= f.days_to_failure <= 180.0 for f in findings)
    assert engine.take_errors() == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.dictionaries(st.sampled_from(FEATURE_KEYS), extreme, min_size=1), from_day=st.integers(0, DAYS - 1))
def test_extreme_and_non_finite_features_of_one_car_leave_the_others_scored(
    values: dict[str, float | None], from_day: int
) -> None:
    days = fleet_days()
    rng = random.Random(7)
    engine = Engine(MODEL, {**STORE, ODD: 10})
    for n in range(DAYS):
        features = healthy(ODD, n, rng)
        if n >= from_day:
            features |= values
        for vday in [*(d for d in days if d.day == day(n)), VehicleDay(ODD, day(n), features, Quality.OK)]:
            engine.add(vday)
        findings = engine.score_day(day(n))
        assert all(math.isfinite(f.z) and 0.0 <= f.confidence <= 1.0 for f in findings)
        assert all(f.vehicle_id == ODD for f in findings)  # the healthy fleet raises nothing because of it
        if n >= 20:  # eight baseline days a week back
            assert set(FLEET) <= scored_vehicles(engine, n)


def test_a_vehicle_whose_score_fails_is_reported_and_the_others_are_scored() -> None:
    """A model slope that overflows for one car's covariate: that car is logged and counted, not the store."""
    params = dict(MODEL.params)
    params[FailureMode.BATTERY] = ModeParams(threshold=3.0, slope=1e303, covariate_ref=0.0)
    engine = Engine(replace(MODEL, params=params), {**STORE, ODD: 10})
    days = fleet_days()
    rng = random.Random(8)
    for n in range(DAYS):
        odd = healthy(ODD, n, rng)
        odd["cold_start_c"] = odd["air_c"] = 1e6 if n % 2 else -1e6  # finite, plausible size, overflows slope x
        for vday in [*(d for d in days if d.day == day(n)), VehicleDay(ODD, day(n), odd, Quality.OK)]:
            engine.add(vday)
        engine.score_day(day(n))
    errors = engine.take_errors()
    assert errors and {(e.vehicle_id, e.mode) for e in errors} == {(ODD, FailureMode.BATTERY)}
    assert "not finite" in errors[-1].error
    assert {v for v, m in engine.all_scores(day(DAYS - 1)) if m is FailureMode.BATTERY} >= set(FLEET)
    assert engine.take_errors() != [] and engine.take_errors() == []  # all_scores above failed again, once
