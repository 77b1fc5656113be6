"""A small seeded fleet producing wire-protocol-v1 telemetry (a placeholder for the full simulator).

Deterministic for a seed: the same fleet, VINs and readings every run. Values are plausible for a
warm petrol engine in city driving; the degradation models and failure injection come later.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from wire.v1 import Sample, TelemetryMessage

VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
MODELS = (
    ("Volkswagen", "Lavida", "1.5L EA211"),
    ("Toyota", "Corolla", "1.2T 8NR"),
    ("Buick", "Excelle", "1.3T"),
    ("BYD", "Qin PLUS DM-i", "1.5L"),
    ("Honda", "Civic", "1.5T L15"),
)


@dataclass(frozen=True, slots=True)
class SimulatedVehicle:
    index: int
    device_id: str
    vin: str
    make: str
    model: str
    year: int
    engine: str


def make_fleet(size: int, *, seed: int = 42, prefix: str = "sim") -> list[SimulatedVehicle]:
    """Return `size` vehicles with deterministic VINs and dongle ids."""
    rng = random.Random(seed)
    fleet = []
    for index in range(size):
        make, model, engine = MODELS[rng.randrange(len(MODELS))]
        vin = "LSV" + "".join(rng.choice(VIN_CHARS) for _ in range(8)) + f"{index:06d}"
        fleet.append(
            SimulatedVehicle(index, f"{prefix}-{seed}-{index:05d}", vin, make, model, 2015 + rng.randrange(10), engine)
        )
    return fleet


def readings(vehicle: SimulatedVehicle, t: float, rng: random.Random) -> dict[str, float | None]:
    """Return one sample's readings at `t` seconds into a drive."""
    phase = math.sin(t / 37.0 + vehicle.index) * 0.5 + 0.5
    rpm = 750 + 2200 * phase + rng.uniform(-40, 40)
    speed = max(0.0, 85 * phase - 8 + rng.uniform(-2, 2))
    load = 18 + 55 * phase
    values: dict[str, float | None] = {
        "RPM": round(rpm, 1),
        "SPEED": round(speed),
        "ENGINE_LOAD": round(load, 1),
        "COOLANT_TEMP": round(min(90.0, 40 + t / 12) + rng.uniform(-0.5, 0.5)),
        "SHORT_FUEL_TRIM_1": round(rng.uniform(-3, 3), 1),
        "LONG_FUEL_TRIM_1": round(1.5 + rng.uniform(-0.4, 0.4), 1),
        "MAF": round(rpm * load / 9000, 2),
        "INTAKE_TEMP": round(28 + rng.uniform(-1, 1)),
        "THROTTLE_POS": round(12 + 40 * phase, 1),
        "CONTROL_MODULE_VOLTAGE": round(14.1 + rng.uniform(-0.1, 0.1), 2),
        "O2_B1S1": round(0.45 + 0.4 * math.sin(t * 3.1), 3),
        "O2_B1S2": round(0.68 + rng.uniform(-0.03, 0.03), 3),
    }
    if rng.random() < 0.01:
        values["O2_B1S2"] = None  # the adapter gave no answer this cycle
    return values


def telemetry(
    vehicle: SimulatedVehicle,
    *,
    start: datetime,
    samples: int,
    samples_per_message: int = 10,
    interval: timedelta = timedelta(seconds=1),
    seq_start: int = 0,
    seed: int = 42,
) -> Iterator[TelemetryMessage]:
    """Yield the messages of `samples` consecutive samples, `samples_per_message` to a message."""
    rng = random.Random(seed * 100_003 + vehicle.index)
    seq = seq_start
    for first in range(0, samples, samples_per_message):
        count = min(samples_per_message, samples - first)
        batch = [
            Sample(
                ts=start + interval * (first + i),
                pids=readings(vehicle, (first + i) * interval.total_seconds(), rng),
            )
            for i in range(count)
        ]
        yield TelemetryMessage(v=1, device_id=vehicle.device_id, vin=vehicle.vin, seq=seq, samples=batch)
        seq += 1
