"""A seeded fleet for history runs and evaluation: who drives what, where, and which part will fail.

`build_fleet(...)` is deterministic for a seed. Each car gets a model (engine size and cylinders set
the physics), a region (climate and altitude), a driver profile, per-car tolerances, the confounders
that fool naive thresholds, sometimes a few PIDs its ECU does not support, and, for `fault_share` of
the fleet, one injected fault with ground-truth onset and failure times (modes dealt round-robin so
every mode is represented). `ground_truth(...)` is what the evaluation scores against.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time

from predict.catalog import FailureMode
from simulators.climate import CHINA, REGIONS, Region
from simulators.faults import InjectedFault, random_fault
from simulators.fleet import VIN_CHARS
from simulators.trips import Profile
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

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(0), tzinfo=CHINA)


def build_fleet(plan: FleetPlan) -> list[SimCar]:
    """Return the plan's cars, the same for the same plan."""
    rng = random.Random(plan.seed)
    faulty = set(rng.sample(range(plan.vehicles), round(plan.vehicles * plan.fault_share)))
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
    region = rng.choice(list(REGIONS.values()))
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
