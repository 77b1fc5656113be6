"""What each failure mode's detector reads: one health index per vehicle-day, pointing towards the fault.

Each index is a physical quantity (a voltage drop, a temperature, a fuel correction, a ratio) taken
from the daily features, with the confounder it is known to move with (cold, heat) as a covariate.
The detector (`predict.detect`) compares the index with the vehicle's own baseline and its cohort;
the fixed-threshold baseline rule in the evaluation reads the same quantities against textbook limits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from predict.catalog import FailureMode
from predict.features import Features


@dataclass(frozen=True, slots=True)
class IndexSpec:
    mode: FailureMode
    name: str
    unit: str
    index: Callable[[Features], float | None]
    covariate: Callable[[Features], float | None] | None
    floor: float  # the smallest meaningful change of the index (sensor resolution, day-to-day physics)
    fixed_limit: float  # textbook limit on `fixed_index` for the fixed-threshold baseline rule
    fixed_index: Callable[[Features], float | None] | None = None  # what a textbook rule reads (default: index)
    # The index compares the vehicle with itself within the day, so the healthy fleet's values can stand in
    # for a baseline the vehicle does not have yet (`ModeParams.prior_centre`).
    fleet_prior: bool = False
    # A physical level that cars of one make, model and engine share in one climate (cranking sag, regulated
    # voltage, warm-up heat, warm coolant), so the cohort's baselines can stand in for the vehicle's own
    # (`predict.detect.cohort_prior`). Not for fuel trims or O2 ratios, which each engine learns for itself.
    cohort_prior: bool = False
    # The textbook limit applies to the index itself, unadjusted (a fuel correction, a misfire excess, an O2
    # ratio): a car persistently halfway to an alert against itself and past that limit is failing even if its
    # own baseline already held the fault (a part that started to fail in the car's first weeks with pitcall).
    absolute_limit: bool = False
    # What a day was like, higher meaning further from ordinary: a day past what the vehicle's own baseline saw
    # on most days is not judged, as the index moves with it in a way no slope holds (a trailer up a mountain
    # heats a healthy engine as a weak radiator would; a battery run flat by weeks parked cranks as a worn one).
    condition: Callable[[Features], float | None] | None = None

    def textbook(self, features: Features) -> float | None:
        """The quantity the fixed-threshold baseline compares with `fixed_limit`."""
        return (self.fixed_index or self.index)(features)


def _get(features: Features, key: str) -> float | None:
    value = features.get(key)
    return None if value is None or math.isnan(value) else value


def _crank_sag(f: Features) -> float | None:
    sag = _get(f, "crank_sag_v")
    return math.log(sag) if sag is not None and sag > 0.05 else None


def _flat(f: Features) -> float | None:
    """How far the battery was from charged before its crank: the day's resting voltage below 12.7 V (a healthy
    battery run down by weeks parked, a dashcam or short trips cranks with a deeper sag)."""
    rest = _get(f, "rest_v")
    return None if rest is None else 12.7 - rest


def _cold_start(f: Features) -> float | None:
    """The temperature of the day's coldest crank: the engine at its first start, bounded by the day's air
    (when the first samples of a cold start are missing, the coolant minimum is a warm restart's)."""
    temps = [t for t in (_get(f, "cold_start_c"), _get(f, "air_c")) if t is not None]
    return min(*temps, 25.0) if temps else None


def _charging(f: Features) -> float | None:
    """The highest voltage the charging system regulated to that day (lower as brushes and regulator wear):
    the recharge after the starts (the upper quartile of the first five minutes, off idle; the median of
    the day's drives) or the day's 90th percentile with the engine running, whichever is higher, on a day
    that showed both. A conventional alternator holds its set point all the time; a smart one lets the
    voltage fall to 12.4-13.2 V at cruise with a full battery and charges after a start, with a low
    battery and when decelerating: both reach their charging voltage on a day they drive, a worn one no
    longer does. A day with no drive off after a start (a winter warm-up at idle, then a motorway) says too
    little of a smart alternator. Days kept before these features existed read the regulated voltage above
    1,500 rpm."""
    early, peak = _get(f, "charge_v_early"), _get(f, "charge_v_peak")
    if early is not None and peak is not None:
        return -max(early, peak)
    if "charge_v_early" in f:
        return None
    old = _get(f, "charge_v_trip")
    old = old if old is not None else _get(f, "charge_v_high_rpm")
    old = old if old is not None else _get(f, "charge_v_p10")
    return -old if old is not None else None


def _morning_air(f: Features) -> float | None:
    """For a car that reads neither ambient nor intake air: the coolant at the day's coldest crank, which
    after a night parked is the air's temperature (a warm restart above 35 °C says nothing about it)."""
    cold = _get(f, "cold_start_c")
    return cold if cold is not None and cold < 35.0 else None


def _charging_air(f: Features) -> float | None:
    """The day's air (the regulator's set point follows it), or the morning's for a car that does not read it."""
    air = _get(f, "air_c")
    return air if air is not None else _morning_air(f)


def _textbook_charging(f: Features) -> float | None:
    volts = _get(f, "charge_v_high_rpm")
    volts = volts if volts is not None else _get(f, "charge_v_p10")
    return -volts if volts is not None else None


def _warmup_heat(f: Features) -> float | None:
    """Log of the heat the engine burnt per kelvin of coolant warm-up from 50 to 80 °C on cold starts.

    Below its opening temperature a closed thermostat keeps the radiator out of the circuit, so the heat
    warms the engine; a thermostat stuck open lets the radiator take heat from the first minute, and the
    warm-up needs more fuel per kelvin, most in cold air and at speed. Normalising by the heat burnt
    takes the driving (idle, city, motorway) out; the air temperature is the covariate."""
    heat = _get(f, "warmup_heat_per_k")
    return math.log(heat) if heat is not None and heat > 0 else None


def _warmup_air(f: Features) -> float | None:
    air = _get(f, "warmup_air_c")
    return air if air is not None else _morning_air(f)


def _warmup_deficit(f: Features) -> float | None:
    hottest = _get(f, "coolant_max")
    if hottest is None or (_get(f, "drive_min") or 0.0) < 25:
        return None  # too little driving to expect a regulated engine
    return max(0.0, 88.0 - hottest)


def _hot(f: Features) -> float | None:
    """Where the warm engine sits in the thermostat's band: it creeps up as the radiator or fan weakens,
    weeks before the coolant boils over (averaging gives sub-degree resolution from 1 °C readings). Heavy
    trips (a trailer, a loaded climb) are left out: they heat a healthy engine as a weak radiator would.
    Days kept before trips were told apart read every warm sample."""
    if (_get(f, "drive_min") or 0.0) < 10:
        return None
    return _get(f, "coolant_warm_light") if "coolant_warm_light" in f else _get(f, "coolant_warm_mean")


def _air(f: Features) -> float | None:
    return _get(f, "air_c")


def _warm_demand(f: Features) -> float | None:
    """Heat to reject per kelvin of coolant over air while warm: a healthy thermostat sits higher in its
    band on a motorway day or a hot one (the covariate of the warm coolant mean, over the same trips)."""
    return _get(f, "warm_demand_light") if "coolant_warm_light" in f else _get(f, "warm_demand")


def _lean(f: Features) -> float | None:
    return _get(f, "trim_idle") if _get(f, "trim_idle") is not None else _get(f, "trim_warm")


MISFIRE_PSEUDO_COUNT = 3.0  # added to both sides: one stray misfire on a quiet engine is no ratio of 2


def _misfire(f: Features) -> float | None:
    """How many times the worst cylinder misfired as often as its siblings (log of (worst + 3) / (mean of the
    others + 3), the day's driving-cycle counts): a coil or plug failing on one cylinder, not damp weather,
    an engine that misfires a little more than the textbook one, a long day or a dongle that reads the
    counters only a few minutes into each trip, which move every cylinder alike."""
    worst, others = _get(f, "misfire_worst"), _get(f, "misfire_others_mean")
    if worst is None or others is None or (_get(f, "drive_min") or 0.0) < 10:
        return None
    return math.log((worst + MISFIRE_PSEUDO_COUNT) / (others + MISFIRE_PSEUDO_COUNT))


O2_MIN_SECONDS = 300.0  # five minutes of readings make a day's O2 swing ratio
O2_MIN_SAMPLES = 4  # and at least this many readings, whatever the dongle's rate


def _sample_interval_s(f: Features) -> float | None:
    """Seconds between the day's driving samples (1 at 1 Hz, 60 for a dongle read once a minute)."""
    samples, minutes = _get(f, "driving_samples"), _get(f, "drive_min")
    return 60.0 * minutes / samples if samples and minutes else None


def _enough_o2(f: Features, count: str) -> bool:
    """Five minutes' worth of O2 readings, so that a 1 Hz dongle and a once-a-minute one judge alike."""
    n, interval = _get(f, count) or 0.0, _sample_interval_s(f)
    return n >= O2_MIN_SAMPLES and interval is not None and n * interval >= O2_MIN_SECONDS


def _o2_ratio(f: Features) -> float | None:
    """Rear/front O2 swing with the catalyst lit (the second half of drives of ten minutes or more, warm):
    a cold catalyst stores no oxygen and lets the rear sensor follow the front like a worn one, so short
    trips say nothing. Without a narrowband front sensor (wideband, or none), the rear swing over a
    textbook front swing. Days kept before the lit ratio existed fall back to the warm-engine ratio."""
    if "o2_ratio_lit" in f:
        return _get(f, "o2_ratio_lit") if _enough_o2(f, "o2_lit_samples") else None
    return _get(f, "o2_ratio") if _enough_o2(f, "o2_samples") else None


INDEXES: dict[FailureMode, IndexSpec] = {
    spec.mode: spec
    for spec in (
        IndexSpec(FailureMode.BATTERY, "log cranking sag", "log V", _crank_sag, _cold_start, 0.06, math.log(3.6),
                  cohort_prior=True, condition=_flat),
        IndexSpec(FailureMode.CHARGING_SYSTEM, "-charging voltage", "-V", _charging, _charging_air, 0.05, -13.5,
                  _textbook_charging, cohort_prior=True),
        IndexSpec(FailureMode.THERMOSTAT, "log warm-up heat per kelvin (50-80 °C)", "log rev/K", _warmup_heat,
                  _warmup_air, 0.04, 15.0, _warmup_deficit, cohort_prior=True),
        IndexSpec(FailureMode.OVERHEATING, "warm coolant mean", "°C", _hot, _warm_demand, 0.3, 100.0,
                  cohort_prior=True, condition=_warm_demand),
        IndexSpec(FailureMode.FUEL_LEAN, "warm idle fuel trim", "%", _lean, None, 1.0, 15.0, absolute_limit=True),
        IndexSpec(FailureMode.MISFIRE, "log worst cylinder's misfires over its siblings'", "log ratio", _misfire, None,
                  0.25, math.log(6.0), fleet_prior=True, absolute_limit=True),
        IndexSpec(FailureMode.CATALYST, "rear/front O2 swing ratio", "ratio", _o2_ratio, None, 0.03, 0.5,
                  absolute_limit=True),
    )
}  # fmt: skip
