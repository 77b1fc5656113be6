"""A seeded fleet for history runs and evaluation: who drives what, where, and which part will fail.

`build_fleet(...)` is deterministic for a seed. Each car gets a model (engine size and cylinders set
the physics), a region (climate and altitude), a driver profile, per-car tolerances, the confounders
that fool naive thresholds, sometimes a few PIDs its ECU does not support, and, for `fault_share` of
the fleet, one injected fault with ground-truth onset and failure times (modes dealt round-robin so
every mode is represented). `ground_truth(...)` is what the evaluation scores against.

`FleetPlan.profile` says how varied the cars and dongles are (`simulators.variety`): `classic` is the
first simulator's textbook car in seven regions (the same fleet as before profiles existed); `standard`
and `stress` draw every car's traits from their ranges, over twelve cities whose seasons each seed
shifts a little, and `stress` uses wider ranges than anything the detectors were tuned on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from predict.catalog import FailureMode
from simulators.climate import CHINA, CITIES, REGIONS, Region
from simulators.faults import InjectedFault, random_fault
from simulators.fleet import VIN_CHARS
from simulators.trips import Profile
from simulators.variety import CLASSIC, PROFILES, Ranges, Traits, draw_traits
from simulators.vehicle import VehicleSpec


@dataclass(frozen=True, slots=True)
class CarModel:
    make: str
    model: str
    engine: str
    engine_l: float
    cylinders: int


MODELS = (
    CarModel("Volkswagen", "Lavida", "1.5L EA211", 1.5, 4),
    CarModel("Toyota", "Corolla", "1.2T 8NR", 1.2, 4),
    CarModel("Buick", "Excelle", "1.3T", 1.3, 3),
    CarModel("Honda", "Accord", "2.0L K20", 2.0, 4),
    CarModel("Nissan", "Sylphy", "1.6L HR16", 1.6, 4),
    CarModel("Volkswagen", "Passat", "3.0L V6", 3.0, 6),
)
PROFILE_WEIGHTS = {
    Profile.COMMUTER: 0.45,
    Profile.SHORT_TRIPS: 0.15,
    Profile.RIDE_HAILING: 0.1,
    Profile.WEEKENDER: 0.15,
    Profile.MOUNTAIN: 0.15,
}
# Sometimes missing in Mode 01 on cheaper or older ECUs.
OPTIONAL_PIDS = ("AMBIANT_AIR_TEMP", "CATALYST_TEMP_B1S1", "MAF", "BAROMETRIC_PRESSURE", "INTAKE_TEMP")
# ... and, in the varied profiles, these too (the dongle's own ELM_VOLTAGE is always there).
MORE_OPTIONAL_PIDS = ("CONTROL_MODULE_VOLTAGE", "O2_B1S2", "THROTTLE_POS")


@dataclass(frozen=True, slots=True)
class SimCar:
    index: int
    device_id: str
    vin: str
    model: CarModel
    year: int
    region: Region
    spec: VehicleSpec
    faults: tuple[InjectedFault, ...]
    confounders: tuple[str, ...]
    seed: int


@dataclass(frozen=True, slots=True)
class FleetPlan:
    seed: int
    vehicles: int
    start: date
    days: int
    fault_share: float = 0.5
    prefix: str = "sim"
    profile: str = CLASSIC  # `simulators.variety`: classic, standard or stress

    @property
    def ranges(self) -> Ranges | None:
        """The profile's ranges (None for the classic textbook car)."""
        if self.profile != CLASSIC and self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}")
        return PROFILES.get(self.profile)

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(0), tzinfo=CHINA)


def build_fleet(plan: FleetPlan) -> list[SimCar]:
    """Return the plan's cars, the same for the same plan."""
    rng = random.Random(plan.seed)
    ranges = plan.ranges
    share = ranges.fault_share if ranges and ranges.fault_share is not None else plan.fault_share
    faulty = set(rng.sample(range(plan.vehicles), round(plan.vehicles * share)))
    modes = list(FailureMode)
    rng.shuffle(modes)
    cars, dealt = [], 0
    for index in range(plan.vehicles):
        car_rng = random.Random(f"{plan.seed}:car:{index}")
        model = car_rng.choice(MODELS)
        faults: tuple[InjectedFault, ...] = ()
        if index in faulty:
            mode = modes[dealt % len(modes)]
            dealt += 1
            faults = (random_fault(car_rng, mode, start=plan.start_at, days=plan.days, cylinders=model.cylinders),)
        cars.append(_car(plan, index, model, faults, car_rng))
    return cars


def _car(plan: FleetPlan, index: int, model: CarModel, faults: tuple[InjectedFault, ...], rng: random.Random) -> SimCar:
    ranges = plan.ranges
    region = rng.choice(list(REGIONS.values()) if ranges is None else list(_cities(plan.seed, ranges).values()))
    profile = rng.choices(list(PROFILE_WEIGHTS), weights=list(PROFILE_WEIGHTS.values()))[0]
    confounders = [profile.value] if profile is not Profile.COMMUTER else []
    ethanol = 10.0 if rng.random() < 0.25 else 0.0
    drain = 0.03
    if ethanol:
        confounders.append("e10_fuel")
    if rng.random() < 0.15:
        drain = 0.07  # a dashcam in parking mode
        confounders.append("dashcam_drain")
    if region.altitude_m > 1500:
        confounders.append("altitude")
    if region.january_mean_c < -10:
        confounders.append("deep_cold")
    unsupported = frozenset(p for p in OPTIONAL_PIDS if rng.random() < 0.08)
    vin = "LSV" + "".join(rng.choice(VIN_CHARS) for _ in range(8)) + f"{plan.seed % 100:02d}{index:04d}"
    spec = VehicleSpec(
        vin=vin,
        engine_l=model.engine_l,
        cylinders=model.cylinders,
        profile=profile,
        base_trim_pct=rng.gauss(0, 2.5),
        ethanol_pct=ethanol,
        parasitic_drain_a=drain,
        unsupported=unsupported,
    )
    if ranges is not None:
        spec, traits = _varied(plan, index, spec, region, ranges)
        confounders += _confounders(traits)
    return SimCar(
        index=index,
        device_id=f"{plan.prefix}-{plan.seed}-{index:05d}",
        vin=vin,
        model=model,
        year=2014 + rng.randrange(12),
        region=region,
        spec=spec,
        faults=faults,
        confounders=tuple(confounders),
        seed=plan.seed * 100_003 + index,
    )


def _cities(seed: int, ranges: Ranges) -> dict[str, Region]:
    """The varied profiles' cities, each one's seasons shifted by up to ±`climate_shift_c` for this seed."""
    out = {}
    for name, city in CITIES.items():
        shift = random.Random(f"{seed}:climate:{name}").uniform(-ranges.climate_shift_c, ranges.climate_shift_c)
        out[name] = replace(city, january_mean_c=city.january_mean_c + shift, july_mean_c=city.july_mean_c + shift)
    return out


def _varied(
    plan: FleetPlan, index: int, spec: VehicleSpec, region: Region, ranges: Ranges
) -> tuple[VehicleSpec, Traits]:
    """The car's traits (from an rng of their own: the textbook draws above stay as they were)."""
    rng = random.Random(f"{plan.seed}:traits:{index}")
    traits = draw_traits(rng, ranges, days=plan.days, cold_region=region.january_mean_c < -5.0)
    optional = (*OPTIONAL_PIDS, *MORE_OPTIONAL_PIDS)
    unsupported = frozenset(p for p in optional if rng.random() < ranges.unsupported_rate)
    trim = rng.uniform(-ranges.trim_offset_pct, ranges.trim_offset_pct) + (3.0 if region.altitude_m > 1500 else 0.0)
    installed = plan.start + timedelta(days=traits.install_day) if traits.install_day else None
    return replace(spec, base_trim_pct=trim, unsupported=unsupported, traits=traits, installed_from=installed), traits


def _confounders(traits: Traits) -> list[str]:
    """The traits a naive threshold would mistake for a fault (listed with the car in the ground truth)."""
    flags = {
        "smart_charging": traits.smart_charging, "winter_idling": traits.winter_idle_min > 0,
        "towing": traits.tow_share > 0, "park_spells": traits.park_spells, "heavy_idle_load": traits.idle_load > 0,
        "late_dongle": traits.install_day > 0, f"o2_{traits.front_o2.value}": traits.front_o2.value != "narrowband",
        f"mode06_{traits.mode06.value}": traits.mode06.value != "trip_end",
        "slow_catalyst_lightoff": traits.catalyst_lightoff_min > 8.0, "uneven_cylinder": traits.misfire_uneven > 1.5,
    }  # fmt: skip
    return [name for name, on in flags.items() if on]


def ground_truth(cars: list[SimCar]) -> list[dict[str, object]]:
    """Return one record per injected fault: what the evaluation scores against."""
    return [
        {
            "vin": car.vin,
            "device_id": car.device_id,
            "mode": fault.mode.value,
            "onset": fault.onset.isoformat(),
            "failure": fault.failure.isoformat(),
            "repaired": fault.repaired.isoformat() if fault.repaired else None,
            "progression": fault.progression.value,
            "cylinder": fault.cylinder,
        }
        for car in cars
        for fault in car.faults
    ]
