"""One simulated car over time: weather, trips and the physics combined into wire-protocol samples.

`VehicleSim.day(...)` advances the car through one local day and returns what its dongle would have
recorded: resting-voltage samples while parked (every 30 min), the cranking dip at each start, and
one sample every `sample_every_s` while driving (fast set, slow set, ELM_VOLTAGE). Mode 06 misfire
counts come once per trip. Faults act through the physics with their ground-truth severity.
A failed start (cranking dip below the cut-out) is recorded and the trip does not happen.

The physics advances in steps of `step_s` seconds (1 for demos, 5 for months of history in minutes).
After each trip the ECU's monitors judge it (`simulators.monitors`) and the driving-cycle rules
(`simulators.dtc_logic`) update the trouble codes; a changed code set lands in `dtc_reports`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from predict.catalog import FailureMode
from simulators.climate import Weather
from simulators.dtc_logic import Ecu
from simulators.faults import InjectedFault
from simulators.monitors import TripStats, verdicts
from simulators.physics import (
    CRANK_CUTOUT_V,
    Battery,
    CoolingSystem,
    adapt_trims,
    catalyst_temp_c,
    charging_v,
    cranking_dip_v,
    misfire_rate_per_1000_revs,
    o2_voltages,
    parked_soc,
    required_trim_pct,
    surface_charge_v,
)
from simulators.trips import Profile, Trip, grade_pct, speed_trace, trips_on

Readings = dict[str, float | None]


@dataclass(frozen=True, slots=True)
class VehicleSpec:
    vin: str
    engine_l: float = 1.5
    cylinders: int = 4
    profile: Profile = Profile.COMMUTER
    base_trim_pct: float = 0.0
    ethanol_pct: float = 0.0
    parasitic_drain_a: float = 0.03
    unsupported: frozenset[str] = frozenset()


@dataclass
class SimulatedRecord:
    ts: datetime
    readings: Readings


@dataclass(frozen=True, slots=True)
class DtcReport:
    """The ECU's codes as Modes 01/03/07 would read them after a trip."""

    ts: datetime
    mil: bool
    stored: tuple[str, ...]
    pending: tuple[str, ...]


@dataclass
class VehicleSim:
    spec: VehicleSpec
    weather: Weather
    faults: list[InjectedFault]
    seed: int
    soc: float = 0.9
    coolant_c: float | None = None
    long_term_trim: float = 0.0
    last_stop: datetime | None = None
    failed_starts: list[datetime] = field(default_factory=list)
    dtc_reports: list[DtcReport] = field(default_factory=list)
    parked_through: datetime | None = None
    last_attempt: datetime | None = None
    ecu: Ecu = field(default_factory=Ecu.empty)
    battery: Battery = field(default_factory=Battery)
    cooling: CoolingSystem = field(init=False)

    def __post_init__(self) -> None:
        self.cooling = CoolingSystem(size=self.spec.engine_l / 1.5)

    def severity(self, mode: FailureMode, when: datetime) -> float:
        return max((f.severity(when) for f in self.faults if f.mode is mode), default=0.0)

    def day(self, day: date, *, sample_every_s: int = 1, step_s: int = 1) -> list[SimulatedRecord]:
        """Return the day's records, in time order (`sample_every_s` must be a multiple of `step_s`)."""
        if sample_every_s % step_s:
            raise ValueError(f"sample_every_s={sample_every_s} is not a multiple of step_s={step_s}")
        records: list[SimulatedRecord] = []
        for planned in trips_on(day, self.spec.profile, self.seed):
            trip = self._after_last_stop(planned)
            records += self._parked_until(trip.start)
            records += self._drive(trip, sample_every_s, step_s)
        return records

    def _after_last_stop(self, trip: Trip) -> Trip:
        """Move a trip that would start before the previous one ended (or before the last attempt to
        start) to 10 minutes after it."""
        earliest = max((t for t in (self.last_stop, self.last_attempt) if t is not None), default=None)
        if earliest is None or trip.start >= earliest + timedelta(minutes=10):
            return trip
        return replace(trip, start=earliest + timedelta(minutes=10))

    def _parked_until(self, until: datetime) -> list[SimulatedRecord]:
        """Advance the parked car to `until` (resting voltage every 30 min since the last stop; after a
        failed start the car stays parked and carries on from where it was)."""
        stop = self.last_stop or until - timedelta(hours=12)
        since = max(stop, self.parked_through or stop)
        records, when = [], since + timedelta(minutes=30)
        fault = self.severity(FailureMode.BATTERY, until)
        while when < until:
            self.soc = parked_soc(
                self.soc, hours=0.5, drain_a=self.spec.parasitic_drain_a, battery=self.battery, fault=fault
            )
            air = self.weather.air_c(when)
            hours = (when - stop).total_seconds() / 3600
            volts = self.battery.open_circuit_v(self.soc, air) + surface_charge_v(hours)
            records.append(SimulatedRecord(when, {"ELM_VOLTAGE": round(volts, 2)}))
            self.parked_through = when
            when += timedelta(minutes=30)
        if self.coolant_c is not None:
            hours = (until - since).total_seconds() / 3600
            self.coolant_c = self.cooling.cool_down(
                coolant_c=self.coolant_c, air_c=self.weather.air_c(until), hours=hours
            )
        return records

    def _drive(self, trip: Trip, sample_every_s: int, step_s: int) -> list[SimulatedRecord]:
        air = self.weather.air_c(trip.start)
        coolant = air if self.coolant_c is None else max(air, self.coolant_c)
        dip = cranking_dip_v(
            self.battery,
            soc=self.soc,
            temp_c=min(air, coolant),
            displacement_l=self.spec.engine_l,
            fault=self.severity(FailureMode.BATTERY, trip.start),
        )
        records = [SimulatedRecord(trip.start, {"ELM_VOLTAGE": round(dip, 2)})]
        self.last_attempt = self.parked_through = trip.start
        if dip < CRANK_CUTOUT_V:
            self.failed_starts.append(trip.start)
            return records
        rng = random.Random(f"{self.seed}:{trip.start.isoformat()}")
        speeds = speed_trace(trip, self.seed)
        stats = TripStats(start_coolant_c=coolant)
        sev = {mode: self.severity(mode, trip.start) for mode in FailureMode}  # wear moves over days, not minutes
        revs = 0.0
        load_sum = 0.0
        for second in range(0, len(speeds), step_s):
            speed = speeds[second]
            when = trip.start + timedelta(seconds=second + 3)
            rpm = 750.0 if speed < 1 else 900.0 + speed * 28.0 / (1 + speed / 60.0)
            accel = speeds[second] - speeds[second - 1] if second else 0.0
            load = min(100.0, 18.0 + 0.25 * speed + 6.0 * max(0.0, accel) + 4.0 * grade_pct(trip, second))
            maf = self.spec.engine_l * rpm * load / 10000.0  # swept air x density x load
            coolant = self.cooling.step(
                coolant_c=coolant,
                air_c=air,
                maf_g_s=maf,
                speed_kmh=speed,
                seconds=float(step_s),
                stuck_open=sev[FailureMode.THERMOSTAT],
                cooling_loss=sev[FailureMode.OVERHEATING],
            )
            revs += rpm / 60.0 * step_s
            load_sum += load * step_s
            readings = self._sample(
                when,
                rng,
                rpm=rpm,
                speed=speed,
                load=load,
                maf=maf,
                coolant=coolant,
                air=air,
                minutes=second / 60.0,
                slow=second % 60 == 0,
                step_s=step_s,
                stats=stats,
                severity=sev,
                sampled=second % sample_every_s == 0,
            )
            if readings is not None:
                records.append(SimulatedRecord(when, readings))
        self.coolant_c = coolant
        self.soc = min(1.0, self.soc + 0.02 * len(speeds) / 600.0)
        self.last_stop = trip.start + timedelta(seconds=len(speeds) + 3)
        misfires = self._misfires(trip.start, rng, revs, load_sum / len(speeds), stats)
        records.append(SimulatedRecord(self.last_stop, misfires))
        self._judge_trip(stats)
        return records

    def _judge_trip(self, stats: TripStats) -> None:
        before = self.ecu.snapshot()
        self.ecu.trip(verdicts(stats), warmed_up=stats.max_coolant_c >= 70.0 and stats.start_coolant_c < 50.0)
        after = self.ecu.snapshot()
        if after != before and self.last_stop is not None:
            mil, stored, pending = after
            self.dtc_reports.append(DtcReport(self.last_stop, mil, tuple(stored), tuple(pending)))

    def _sample(
        self,
        when: datetime,
        rng: random.Random,
        *,
        rpm: float,
        speed: float,
        load: float,
        maf: float,
        coolant: float,
        air: float,
        minutes: float,
        slow: bool,
        step_s: int,
        stats: TripStats,
        severity: dict[FailureMode, float],
        sampled: bool,
    ) -> Readings | None:
        """Advance trims and the trip's monitors by one step; return the readings if this step is sampled."""
        required = required_trim_pct(
            maf_g_s=maf,
            load_pct=load,
            vacuum_leak=severity[FailureMode.FUEL_LEAN],
            base_offset_pct=self.spec.base_trim_pct,
            ethanol_pct=self.spec.ethanol_pct,
        )
        short_term, self.long_term_trim = adapt_trims(
            required_pct=required, long_term_pct=self.long_term_trim, seconds=float(step_s), noise_pct=rng.gauss(0, 1.5)
        )
        cat_c = catalyst_temp_c(load_pct=load, minutes_running=minutes, air_c=air)
        front, rear = o2_voltages(
            phase=rng.uniform(0, 2 * math.pi),
            catalyst_c=cat_c,
            degradation=severity[FailureMode.CATALYST],
            noise=rng.gauss(0, 0.02),
        )
        volts = charging_v(
            temp_c=air,
            electrical_load=0.35 + (0.3 if when.hour >= 18 or when.hour < 6 else 0.0),
            rpm=rpm,
            fault=severity[FailureMode.CHARGING_SYSTEM],
        )
        stats.step(
            minutes=minutes, coolant_c=coolant, rpm=rpm, volts=volts, total_trim_pct=short_term + self.long_term_trim
        )
        stats.o2(front, rear, cat_c)
        if not sampled:
            return None
        readings: Readings = {
            "RPM": round(rpm + rng.gauss(0, 15), 1),
            "SPEED": round(speed),
            "ENGINE_LOAD": round(load, 1),
            "COOLANT_TEMP": round(coolant),
            "SHORT_FUEL_TRIM_1": round(short_term, 1),
            "LONG_FUEL_TRIM_1": round(self.long_term_trim, 1),
            "MAF": round(maf, 2),
            "INTAKE_TEMP": round(air + 8),
            "THROTTLE_POS": round(12 + load * 0.6, 1),
            "CONTROL_MODULE_VOLTAGE": round(volts, 2),
            "O2_B1S1": round(front, 3),
            "O2_B1S2": round(rear, 3),
            "ELM_VOLTAGE": round(volts - 0.1, 2),
        }
        if slow:
            readings |= {
                "AMBIANT_AIR_TEMP": round(air),
                "CATALYST_TEMP_B1S1": round(cat_c),
                "BAROMETRIC_PRESSURE": round(self.weather.region.barometric_kpa),
            }
        return {k: v for k, v in readings.items() if k not in self.spec.unsupported}

    def _misfires(
        self, when: datetime, rng: random.Random, revs: float, mean_load: float, stats: TripStats
    ) -> Readings:
        wear = {f.cylinder: f.severity(when) for f in self.faults if f.mode is FailureMode.MISFIRE}
        counts: Readings = {}
        for cylinder in range(1, self.spec.cylinders + 1):
            rate = misfire_rate_per_1000_revs(coil_wear=wear.get(cylinder, 0.0), load_pct=mean_load, humid=False)
            expected = rate * revs / 1000.0
            count = _poisson(rng, expected)
            counts[f"MONITOR_MISFIRE_CYLINDER_{cylinder}.MISFIRE_COUNT"] = float(count)
            stats.misfires_per_1000[cylinder] = 1000.0 * count / max(revs, 1.0)
        return counts


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k
