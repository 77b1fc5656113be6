"""One simulated car over time: weather, trips and the physics combined into wire-protocol samples.

`VehicleSim.day(...)` advances the car through one local day and returns what its dongle would have
recorded: resting-voltage samples while parked (every 30 min), the cranking dip at each start, and
one sample every `sample_every_s` while driving (fast set, slow set, ELM_VOLTAGE). Mode 06 misfire
counts are read as the car's dongle reads them (`Traits.mode06`: once at the end of a trip for the
textbook car). Faults act through the physics with their ground-truth severity.
A failed start (cranking dip below the cut-out) is recorded and the trip does not happen.
How this car and its dongle differ from the textbook car is in `VehicleSpec.traits`
(`simulators.variety`); the textbook car draws nothing extra, so its messages are those of the first
simulator.

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
    Battery,
    CoolingSystem,
    adapt_trims,
    catalyst_temp_c,
    charge_gain,
    charging_v,
    cranking_dip_v,
    misfire_rate_per_1000_revs,
    o2_voltages,
    parked_soc,
    required_trim_pct,
    smart_charging_v,
    surface_charge_v,
    wideband_current_ma,
)
from simulators.trips import Profile, Trip, grade_pct, speed_trace, trips_on
from simulators.variety import FrontO2, Mode06Reads, Traits

Readings = dict[str, float | None]
MONITOR_READ_AFTER_S = 300  # pitcall's agent reads Mode 06 this long into a trip (`monitor_delay_s`)
WIDEBAND_DITHER = 0.6
TOWING_COOLING_LOSS = 0.45  # a wideband-controlled engine swings its mixture less than a narrowband one


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
    traits: Traits = field(default_factory=Traits)
    installed_from: date | None = None  # the dongle's first day (None: it was always there)


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
    battery: Battery = field(init=False)
    cooling: CoolingSystem = field(init=False)
    last_cycle: Readings = field(default_factory=dict)  # the last trip's misfire counts (what LAST_CYCLE ECUs answer)

    def __post_init__(self) -> None:
        traits = self.spec.traits
        # a bigger engine comes with a bigger battery (the textbook car has one battery for every engine)
        size = 1.5 / self.spec.engine_l if traits.refined_physics else 1.0
        self.battery = Battery(r25_ohm=traits.battery_r25_ohm * size)
        opens = traits.thermostat_opens_c
        self.cooling = CoolingSystem(size=self.spec.engine_l / 1.5, thermostat_opens_c=opens,
                                     thermostat_full_c=opens + 10.0)  # fmt: skip

    def severity(self, mode: FailureMode, when: datetime) -> float:
        return max((f.severity(when) for f in self.faults if f.mode is mode), default=0.0)

    def day(self, day: date, *, sample_every_s: int = 1, step_s: int = 1) -> list[SimulatedRecord]:
        """Return the day's records, in time order (`sample_every_s` must be a multiple of `step_s`)."""
        if sample_every_s % step_s:
            raise ValueError(f"sample_every_s={sample_every_s} is not a multiple of step_s={step_s}")
        if (self.spec.installed_from is not None and day < self.spec.installed_from) or self._parked_all_day(day):
            return []  # no dongle yet, or parked for weeks (its resting voltages come with the next drive)
        records: list[SimulatedRecord] = []
        for planned in trips_on(day, self.spec.profile, self.seed):
            trip = self._after_last_stop(planned)
            records += self._parked_until(trip.start)
            records += self._drive(trip, sample_every_s, step_s)
        return records

    def _parked_all_day(self, day: date) -> bool:
        """A car with park spells stands for one to three and a half weeks in some four-week blocks."""
        if not self.spec.traits.park_spells:
            return False
        block, offset = divmod(day.toordinal(), 28)
        rng = random.Random(f"{self.seed}:park:{block}")
        if rng.random() >= 0.4:
            return False
        first = rng.randrange(0, 14)
        return first <= offset < first + rng.randrange(7, 25)

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
        traits = self.spec.traits
        air = self.weather.air_c(trip.start)
        coolant = air if self.coolant_c is None else max(air, self.coolant_c)
        dip = cranking_dip_v(
            self.battery,
            soc=self.soc,
            temp_c=min(air, coolant),
            displacement_l=self.spec.engine_l,
            fault=self.severity(FailureMode.BATTERY, trip.start),
            flat_resists=traits.refined_physics,
        )
        records = [SimulatedRecord(trip.start, {"ELM_VOLTAGE": round(dip, 2)})]
        self.last_attempt = self.parked_through = trip.start
        if dip < traits.crank_cutout_v:
            self.failed_starts.append(trip.start)
            return records
        rng = random.Random(f"{self.seed}:{trip.start.isoformat()}")
        vary = random.Random(f"{self.seed}:vary:{trip.start.isoformat()}")  # the traits' draws, apart from `rng`
        speeds = speed_trace(trip, self.seed)
        if traits.winter_idle_min and air < -10.0:
            speeds = [0.0] * round(60 * traits.winter_idle_min) + speeds  # warming up before driving off
        towing = bool(traits.tow_share) and vary.random() < traits.tow_share
        stats = TripStats(start_coolant_c=coolant)
        sev = {mode: self.severity(mode, trip.start) for mode in FailureMode}  # wear moves over days, not minutes
        revs = 0.0
        load_sum = 0.0
        volts_sum = 0.0
        revs_at: dict[datetime, float] = {}  # cumulative revolutions at each sampled instant (Mode 06 reads)
        for second in range(0, len(speeds), step_s):
            speed = speeds[second]
            when = trip.start + timedelta(seconds=second + 3)
            rpm = 750.0 if speed < 1 else 900.0 + speed * 28.0 / (1 + speed / 60.0)
            accel = speeds[second] - speeds[second - 1] if second else 0.0
            load = min(100.0, 18.0 + 0.25 * speed + 6.0 * max(0.0, accel) + 4.0 * grade_pct(trip, second))
            if towing:
                load = min(100.0, load + 25.0 + 3.0 * grade_pct(trip, second))
            maf = self.spec.engine_l * rpm * load / 10000.0  # swept air x density x load
            coolant = self.cooling.step(
                coolant_c=coolant,
                air_c=air,
                maf_g_s=maf,
                speed_kmh=speed,
                seconds=float(step_s),
                stuck_open=sev[FailureMode.THERMOSTAT],
                # a trailer up a long climb: the radiator can no longer keep the coolant in the thermostat's band
                cooling_loss=max(sev[FailureMode.OVERHEATING], TOWING_COOLING_LOSS if towing else 0.0),
            )
            revs += rpm / 60.0 * step_s
            load_sum += load * step_s
            readings = self._sample(
                when,
                rng,
                vary,
                rpm=rpm,
                speed=speed,
                accel=accel,
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
            volts_sum += stats.last_volts * step_s
            if readings is not None:
                records.append(SimulatedRecord(when, readings))
            if second % 60 == 0 or readings is not None:
                revs_at[when] = revs
        self.coolant_c = coolant
        if traits.refined_physics:
            gain = charge_gain(volts=volts_sum / len(speeds), minutes=len(speeds) / 60)
            self.soc = min(1.0, max(0.0, self.soc + gain))
        else:
            self.soc = min(1.0, self.soc + 0.02 * len(speeds) / 600.0)
        self.last_stop = trip.start + timedelta(seconds=len(speeds) + 3)
        # the refined car draws its misfires apart from the samples' noise: the same trip misfires alike
        # whatever its dongle's cadence (the textbook car keeps the first simulator's draws)
        counts_rng = random.Random(f"{self.seed}:misfire:{trip.start.isoformat()}") if traits.refined_physics else rng
        misfires = self._misfires(trip.start, counts_rng, revs, load_sum / len(speeds), stats)
        records = self._read_mode06(records, misfires, revs_at, total_revs=revs, vary=vary)
        self._judge_trip(stats)
        return records

    def _read_mode06(
        self,
        records: list[SimulatedRecord],
        totals: Readings,
        revs_at: dict[datetime, float],
        *,
        total_revs: float,
        vary: random.Random,
    ) -> list[SimulatedRecord]:
        """Add the Mode 06 misfire counters to the trip's records the way this car's dongle reads them: the
        cycle's count so far (thinned by the share of the trip's revolutions done), or the last cycle's."""
        policy = self.spec.traits.mode06
        assert self.last_stop is not None
        if policy is Mode06Reads.TRIP_END:
            return [*records, SimulatedRecord(self.last_stop, totals)]
        start = records[0].ts
        into = {t: (t - start).total_seconds() for t in revs_at}
        minutes = sorted(t for t, s in into.items() if s % 60 < 5 and s > 50)  # once a minute from the first
        if policy is Mode06Reads.LAST_CYCLE:
            previous, self.last_cycle = self.last_cycle, totals
            reads = {t: previous for t in minutes} if previous else {}
        else:
            if policy is Mode06Reads.EVERY_SAMPLE:
                times = sorted(r.ts for r in records[1:])
            elif policy is Mode06Reads.EVERY_MINUTE:
                times = minutes
            else:  # IN_TRIP: once five minutes in; again later after an agent restart now and then
                due = [t for t in sorted(revs_at) if (t - start).total_seconds() >= MONITOR_READ_AFTER_S]
                times = due[:1] + ([vary.choice(due)] if due and vary.random() < 0.15 else [])
            reads = _running_counts(sorted(set(times)), totals, revs_at, total_revs, vary)
        by_time = {r.ts: r for r in records}
        for when, counts in reads.items():
            if when in by_time:
                by_time[when].readings |= counts  # one sample carries every PID read at that instant
            else:
                by_time[when] = SimulatedRecord(when, dict(counts))
        return sorted(by_time.values(), key=lambda r: r.ts)

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
        vary: random.Random,
        *,
        rpm: float,
        speed: float,
        accel: float,
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
        """Advance trims and the trip's monitors by one step; return the readings if this step is sampled.
        `rng` draws what the textbook car draws; `vary` what only the car's traits need."""
        traits = self.spec.traits
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
        lightoff = traits.catalyst_lightoff_min
        if traits.refined_physics:  # a catalyst lights off later in cold air
            lightoff *= 1.0 + max(0.0, 5.0 - air) / 25.0
        cat_c = catalyst_temp_c(load_pct=load, minutes_running=minutes, air_c=air, lightoff_min=lightoff)
        dither = 1.0 if traits.front_o2 is FrontO2.NARROWBAND else WIDEBAND_DITHER
        phase = rng.uniform(0, 2 * math.pi)
        front, rear = o2_voltages(
            phase=phase, catalyst_c=cat_c, degradation=severity[FailureMode.CATALYST], noise=rng.gauss(0, 0.02),
            dither=dither,
        )  # fmt: skip
        volts = self._system_voltage(when, air=air, rpm=rpm, speed=speed, accel=accel, minutes=minutes,
                                     fault=severity[FailureMode.CHARGING_SYSTEM])  # fmt: skip
        if traits.voltage_noise_v:
            volts += vary.gauss(0.0, traits.voltage_noise_v)
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
        if traits.front_o2 is not FrontO2.NARROWBAND:
            del readings["O2_B1S1"]
        if traits.front_o2 is FrontO2.WIDEBAND_CURRENT:
            readings["O2_S1_WR_CURRENT"] = round(wideband_current_ma(phase=phase, dither=dither,
                                                                     noise=vary.gauss(0.0, 0.005)), 3)  # fmt: skip
        if slow:
            readings |= {
                "AMBIANT_AIR_TEMP": round(air),
                "CATALYST_TEMP_B1S1": round(cat_c),
                "BAROMETRIC_PRESSURE": round(self.weather.region.barometric_kpa),
            }
        if traits.send_nulls:
            return {k: None if k in self.spec.unsupported else v for k, v in readings.items()}
        return {k: v for k, v in readings.items() if k not in self.spec.unsupported}

    def _system_voltage(
        self, when: datetime, *, air: float, rpm: float, speed: float, accel: float, minutes: float, fault: float
    ) -> float:
        """The regulated system voltage: a conventional alternator's set point, or a smart one's strategy."""
        traits = self.spec.traits
        load = 0.35 + (0.3 if when.hour >= 18 or when.hour < 6 else 0.0) + (traits.idle_load if speed < 1 else 0.0)
        if not traits.smart_charging:
            return charging_v(temp_c=air, electrical_load=load, rpm=rpm, fault=fault)
        return smart_charging_v(temp_c=air, soc=self.soc, decelerating=accel < -1.5, minutes_running=minutes,
                                cruise_v=traits.smart_cruise_v, electrical_load=load, rpm=rpm, fault=fault)  # fmt: skip

    def _misfires(
        self, when: datetime, rng: random.Random, revs: float, mean_load: float, stats: TripStats
    ) -> Readings:
        """The trip's whole misfire count per cylinder (the driving cycle's Mode 06 count)."""
        traits = self.spec.traits
        wear = {f.cylinder: f.severity(when) for f in self.faults if f.mode is FailureMode.MISFIRE}
        humid = bool(traits.humid_share) and random.Random(f"{self.weather.seed}:humid:{when.date()}").random() < (
            traits.humid_share
        )
        uneven = 1 + self.seed % self.spec.cylinders  # the cylinder that misfires more, healthy as it is
        counts: Readings = {}
        for cylinder in range(1, self.spec.cylinders + 1):
            healthy = 0.02 * traits.misfire_base * (traits.misfire_uneven if cylinder == uneven else 1.0)
            rate = misfire_rate_per_1000_revs(
                coil_wear=wear.get(cylinder, 0.0), load_pct=mean_load, humid=humid, healthy_rate=healthy
            )
            expected = rate * revs / 1000.0
            count = _poisson(rng, expected)
            counts[f"MONITOR_MISFIRE_CYLINDER_{cylinder}.MISFIRE_COUNT"] = float(count)
            stats.misfires_per_1000[cylinder] = 1000.0 * count / max(revs, 1.0)
        return counts


def _running_counts(
    times: list[datetime], totals: Readings, revs_at: dict[datetime, float], total_revs: float, rng: random.Random
) -> dict[datetime, Readings]:
    """Each cylinder's count so far at each of `times` (ascending): the trip's total thinned by the share of
    its revolutions done by then, never falling."""
    out: dict[datetime, Readings] = {}
    so_far = {pid: 0 for pid in totals}
    done = 0.0
    for when in times:
        share = revs_at.get(when, total_revs) / max(total_revs, 1.0)
        step = 0.0 if done >= 1.0 else max(0.0, min(1.0, (share - done) / (1.0 - done)))
        for pid, total in totals.items():
            so_far[pid] += _binomial(rng, int(total or 0) - so_far[pid], step)
        out[when] = {pid: float(n) for pid, n in so_far.items()}
        done = max(done, share)
    return out


def _binomial(rng: random.Random, n: int, p: float) -> int:
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if n > 50:
        return max(0, min(n, round(rng.gauss(n * p, math.sqrt(n * p * (1 - p))))))
    return sum(rng.random() < p for _ in range(n))


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k
