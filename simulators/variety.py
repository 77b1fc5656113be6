"""How real cars and dongles differ from the textbook car: per-car traits drawn from a profile's ranges.

Everything here occurs in ordinary fleets (docs/simulators.md, "Variety"): dongles that read every second
or once a minute, Mode 06 misfire counters read once a trip or with every sample, ECU-controlled ("smart")
alternators, wideband upstream O2 sensors or none, healthy fuel trims offset by ±10 %, northern drivers who
idle 15 minutes at -25 °C before they drive, batteries that crank down to 7 V and still start, cars parked
for weeks with a dashcam draining them, towing and mountain climbs, catalysts that need ten minutes to light
off, PIDs the ECU does not answer (left out or sent as null), dongles fitted in the middle of the period.

A profile is a set of ranges. `CLASSIC` is the textbook car of the first simulator (every trait at its
default: the same messages as before traits existed); `STANDARD` is what the detectors are tuned and
trained on; `STRESS` draws from wider ranges and is only ever used for checking (its own seeds), so a
figure on it says how the detectors hold on cars they were not tuned for.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

T = TypeVar("T")


class Mode06Reads(StrEnum):
    """When a dongle reads the Mode 06 misfire counters (the count of the current or last driving cycle)."""

    TRIP_END = "trip_end"  # once, as the trip ends: the cycle's whole count
    IN_TRIP = "in_trip"  # once some minutes in (pitcall's agent), again after a restart: the count so far
    EVERY_MINUTE = "every_minute"  # the running count, once a minute
    EVERY_SAMPLE = "every_sample"  # the running count with every sample
    LAST_CYCLE = "last_cycle"  # the ECU answers with the last completed cycle's count, read once a minute


class FrontO2(StrEnum):
    """The upstream oxygen sensor the ECU reports."""

    NARROWBAND = "narrowband"  # O2_B1S1, volts switching 0.1-0.9
    WIDEBAND_CURRENT = "wideband_current"  # O2_S1_WR_CURRENT, milliamps around 0
    NONE = "none"  # neither (the rear sensor alone)


@dataclass(frozen=True, slots=True)
class Traits:
    """How one car and its dongle differ from the textbook car. The defaults are the textbook car."""

    sample_every_s: int | None = None  # None: the run's cadence
    mode06: Mode06Reads = Mode06Reads.TRIP_END
    smart_charging: bool = False
    smart_cruise_v: float = 12.8  # a smart alternator at cruise with a full battery
    front_o2: FrontO2 = FrontO2.NARROWBAND
    catalyst_lightoff_min: float = 4.0  # minutes of driving to light off in mild air
    crank_cutout_v: float = 8.5  # below this while cranking the ECU resets: no start
    battery_r25_ohm: float = 0.008  # of a battery for a 1.5 L engine (bigger engines, bigger batteries)
    winter_idle_min: float = 0.0  # idling before driving off when the air is below -10 °C
    idle_load: float = 0.0  # extra electrical load at idle (seat heaters, A/C, lights)
    tow_share: float = 0.0  # share of days with a trailer or a loaded climb
    park_spells: bool = False  # parked for weeks at a time
    install_day: int = 0  # the dongle is fitted on this day of the period (no data before)
    send_nulls: bool = False  # unsupported PIDs come as null instead of being left out
    thermostat_opens_c: float = 86.0
    misfire_base: float = 1.0  # healthy misfire rate of this engine, relative to the textbook one
    misfire_uneven: float = 1.0  # one healthy cylinder misfires this many times as often as its siblings
    humid_share: float = 0.0  # share of days damp enough to raise every cylinder's misfires
    voltage_noise_v: float = 0.0  # read noise of the control-module voltage
    # The physics refined since the first simulator (off for the textbook car, so its messages stay the
    # same): the battery's charge follows the alternator (a failing one drains it), a flat battery cranks
    # with a higher resistance, a catalyst lights off later in cold air.
    refined_physics: bool = False


@dataclass(frozen=True, slots=True)
class Ranges:
    """A profile: the ranges each car's traits are drawn from (shares are per car unless said)."""

    name: str
    cadences_s: tuple[tuple[int, float], ...]  # (seconds between samples, weight)
    mode06: tuple[tuple[Mode06Reads, float], ...]
    smart_share: float
    smart_cruise_v: tuple[float, float]
    wideband_share: float
    no_front_o2_share: float
    lightoff_min: tuple[float, float]
    trim_offset_pct: float  # healthy long-term trim offsets drawn uniformly within ±this
    crank_cutout_v: tuple[float, float]
    battery_r25_ohm: tuple[float, float]
    winter_idler_share: float
    winter_idle_min: tuple[float, float]
    idle_load_share: float
    tow_share: float
    park_share: float
    late_install_share: float  # fitted somewhere in the period instead of at its start
    null_share: float
    unsupported_rate: float  # per optional PID
    thermostat_opens_c: tuple[float, float]
    misfire_base: tuple[float, float]
    misfire_uneven: tuple[float, float]
    humid_share: tuple[float, float]
    voltage_noise_v: tuple[float, float]
    climate_shift_c: float  # each region's seasons moved by up to ±this for the run's seed
    fault_share: float | None = None  # share of cars with a fault (None: the plan's)


STANDARD = Ranges(
    name="standard",
    cadences_s=((10, 0.15), (15, 0.1), (30, 0.5), (60, 0.25)),
    mode06=((Mode06Reads.TRIP_END, 0.4), (Mode06Reads.IN_TRIP, 0.3), (Mode06Reads.EVERY_MINUTE, 0.2),
            (Mode06Reads.LAST_CYCLE, 0.1)),
    smart_share=0.3,
    smart_cruise_v=(12.6, 13.1),
    wideband_share=0.25,
    no_front_o2_share=0.05,
    lightoff_min=(3.0, 8.0),
    trim_offset_pct=7.0,
    crank_cutout_v=(6.5, 7.5),
    battery_r25_ohm=(0.006, 0.011),
    winter_idler_share=0.3,
    winter_idle_min=(5.0, 12.0),
    idle_load_share=0.2,
    tow_share=0.1,
    park_share=0.1,
    late_install_share=0.15,
    null_share=0.3,
    unsupported_rate=0.1,
    thermostat_opens_c=(84.0, 90.0),
    misfire_base=(0.5, 2.0),
    misfire_uneven=(1.0, 1.5),
    humid_share=(0.0, 0.2),
    voltage_noise_v=(0.0, 0.05),
    climate_shift_c=2.0,
)  # fmt: skip

STRESS = Ranges(
    name="stress",
    cadences_s=((5, 0.1), (10, 0.1), (20, 0.15), (30, 0.25), (45, 0.1), (60, 0.3)),
    mode06=((Mode06Reads.TRIP_END, 0.15), (Mode06Reads.IN_TRIP, 0.2), (Mode06Reads.EVERY_MINUTE, 0.25),
            (Mode06Reads.EVERY_SAMPLE, 0.2), (Mode06Reads.LAST_CYCLE, 0.2)),
    smart_share=0.5,
    smart_cruise_v=(12.4, 13.2),
    wideband_share=0.4,
    no_front_o2_share=0.1,
    lightoff_min=(2.5, 12.0),
    trim_offset_pct=12.0,
    crank_cutout_v=(6.0, 7.2),
    battery_r25_ohm=(0.005, 0.013),
    winter_idler_share=0.6,
    winter_idle_min=(8.0, 20.0),
    idle_load_share=0.4,
    tow_share=0.2,
    park_share=0.2,
    late_install_share=0.3,
    null_share=0.5,
    unsupported_rate=0.2,
    thermostat_opens_c=(80.0, 92.0),
    misfire_base=(0.3, 4.0),
    misfire_uneven=(1.0, 2.5),
    humid_share=(0.0, 0.4),
    voltage_noise_v=(0.0, 0.1),
    climate_shift_c=4.0,
    fault_share=0.2,
)  # fmt: skip

PROFILES = {p.name: p for p in (STANDARD, STRESS)}
CLASSIC = "classic"  # no ranges: every car is the textbook car
PROFILE_NAMES = (CLASSIC, *PROFILES)


def _pick(rng: random.Random, weighted: tuple[tuple[T, float], ...]) -> T:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def draw_traits(rng: random.Random, ranges: Ranges, *, days: int, cold_region: bool) -> Traits:
    """One car's traits, drawn from `ranges` (deterministic for the rng's state)."""
    u = rng.uniform
    wideband = rng.random() < ranges.wideband_share
    front = FrontO2.WIDEBAND_CURRENT if wideband else FrontO2.NARROWBAND
    if rng.random() < ranges.no_front_o2_share:
        front = FrontO2.NONE
    late = rng.random() < ranges.late_install_share
    return Traits(
        sample_every_s=_pick(rng, ranges.cadences_s),
        mode06=_pick(rng, ranges.mode06),
        smart_charging=rng.random() < ranges.smart_share,
        smart_cruise_v=u(*ranges.smart_cruise_v),
        front_o2=front,
        catalyst_lightoff_min=u(*ranges.lightoff_min),
        crank_cutout_v=u(*ranges.crank_cutout_v),
        battery_r25_ohm=u(*ranges.battery_r25_ohm),
        winter_idle_min=u(*ranges.winter_idle_min) if cold_region and rng.random() < ranges.winter_idler_share else 0.0,
        idle_load=u(0.2, 0.4) if rng.random() < ranges.idle_load_share else 0.0,
        tow_share=u(0.05, 0.3) if rng.random() < ranges.tow_share else 0.0,
        park_spells=rng.random() < ranges.park_share,
        install_day=rng.randrange(1, max(2, days * 2 // 3)) if late else 0,
        send_nulls=rng.random() < ranges.null_share,
        thermostat_opens_c=u(*ranges.thermostat_opens_c),
        misfire_base=u(*ranges.misfire_base),
        misfire_uneven=u(*ranges.misfire_uneven),
        humid_share=u(*ranges.humid_share),
        voltage_noise_v=u(*ranges.voltage_noise_v),
        refined_physics=True,
    )
