"""Physical models of the parts pitcall watches, as pure functions of state, load and temperature.

Rough but physically shaped, so that the signals move the way a mechanic expects and confounders
(cold, short trips, altitude) act through the same physics as faults do. `fault` arguments are a
severity in [0, 1]: 0 healthy, 1 failed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# --- 12 V battery -------------------------------------------------------------------------------

CRANK_CUTOUT_V = 8.5  # below this during cranking the ECU resets or the starter stalls: no start


@dataclass(frozen=True, slots=True)
class Battery:
    capacity_ah: float = 60.0
    r25_ohm: float = 0.008  # internal resistance of a good battery at 25 °C

    def open_circuit_v(self, soc: float, temp_c: float) -> float:
        """Resting voltage for a state of charge (12.7 V full, ~12.0 V flat), slightly lower when cold."""
        return 11.95 + 0.8 * min(max(soc, 0.0), 1.0) + 0.0025 * (temp_c - 25.0)

    def resistance_ohm(self, temp_c: float, fault: float) -> float:
        """Internal resistance: rises in the cold (electrolyte) and with sulphation/age (the fault)."""
        cold = 1.0 + 0.012 * max(0.0, 25.0 - temp_c)
        return self.r25_ohm * cold * (1.0 + 1.5 * fault)

    def usable_capacity_ah(self, fault: float) -> float:
        return self.capacity_ah * (1.0 - 0.6 * fault)


def cranking_current_a(oil_temp_c: float, displacement_l: float) -> float:
    """Starter current: more for big engines and cold, thick oil."""
    return (100.0 + 50.0 * displacement_l) * (1.0 + 0.008 * max(0.0, 25.0 - oil_temp_c))


def cranking_dip_v(
    battery: Battery, *, soc: float, temp_c: float, displacement_l: float, fault: float, flat_resists: bool = False
) -> float:
    """The lowest battery voltage while the starter turns. `flat_resists`: a battery below 60 % charge
    cranks with a higher resistance (a healthy battery after weeks parked with a dashcam on)."""
    ocv = battery.open_circuit_v(soc, temp_c)
    resistance = battery.resistance_ohm(temp_c, fault)
    if flat_resists:
        resistance *= 1.0 + 1.5 * max(0.0, 0.6 - soc)
    return max(5.0, ocv - cranking_current_a(temp_c, displacement_l) * resistance)


def parked_soc(soc: float, *, hours: float, drain_a: float, battery: Battery, fault: float) -> float:
    """State of charge after parking: parasitic drain plus self-discharge (faster in a worn battery)."""
    capacity = battery.usable_capacity_ah(fault)
    self_discharge_a = capacity * (0.0001 + 0.0004 * fault)
    return max(0.0, soc - (drain_a + self_discharge_a) * hours / capacity)


def surface_charge_v(hours_since_charge: float) -> float:
    """Extra resting voltage right after driving, fading over a few hours."""
    return 0.25 * math.exp(-hours_since_charge / 2.0)


# --- charging system ----------------------------------------------------------------------------


def charging_v(*, temp_c: float, electrical_load: float, rpm: float, fault: float) -> float:
    """Running system voltage: the regulator's set point (higher in the cold), sagging when the
    alternator cannot supply the load (worn alternator, or low RPM with a heavy load). Worn brushes and
    a tired regulator also pull the regulated voltage down a little as the alternator wears."""
    set_point = 14.35 - 0.012 * (temp_c - 25.0) - 0.5 * fault
    supply = (1.0 - 0.85 * fault) * min(1.0, 0.45 + rpm / 2500.0)
    shortfall = max(0.0, electrical_load - supply)
    return max(11.5, set_point - 3.0 * shortfall)


def smart_charging_v(
    *,
    temp_c: float,
    soc: float,
    decelerating: bool,
    minutes_running: float,
    cruise_v: float,
    electrical_load: float,
    rpm: float,
    fault: float,
) -> float:
    """An ECU-controlled ("smart") alternator: it charges (14.4-15 V) after a start, while the battery is
    below 80 % and when the car decelerates (free energy); at cruise with a full battery it lets the
    voltage fall to 12.4-13.2 V to save fuel. A worn alternator or regulator can no longer reach the
    charging voltage (its ceiling falls) and, worn further, cannot supply the load."""
    charging = soc < 0.8 or minutes_running < 3.0 or decelerating
    target = (14.8 if decelerating else 14.5) - 0.012 * (temp_c - 25.0) if charging else cruise_v
    ceiling = 14.9 - 0.012 * (temp_c - 25.0) - 1.2 * fault
    supply = (1.0 - 0.85 * fault) * min(1.0, 0.45 + rpm / 2500.0)
    shortfall = max(0.0, electrical_load - supply)
    return max(11.5, min(target, ceiling) - 3.0 * shortfall)


def charge_gain(*, volts: float, minutes: float) -> float:
    """State of charge a trip adds (or takes): charging above ~13.6 V, drawing on the battery below ~12.9 V."""
    return max(-0.02, min(0.02, (volts - 13.3) * 0.04)) * minutes / 10.0


# --- engine cooling -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CoolingSystem:
    heat_capacity_kj_k: float = 28.0  # coolant + engine block
    thermostat_opens_c: float = 86.0
    thermostat_full_c: float = 96.0
    size: float = 1.0  # radiator, block and coolant scale with the engine (1.0 = a 1.5 L engine)

    def step(
        self,
        *,
        coolant_c: float,
        air_c: float,
        maf_g_s: float,
        speed_kmh: float,
        seconds: float,
        stuck_open: float = 0.0,
        cooling_loss: float = 0.0,
    ) -> float:
        """Advance the coolant temperature by `seconds` of running.

        Heat in: about 45 % of the fuel energy (combustion and friction). Heat out: the block to the
        air, and the radiator once the thermostat opens (a thermostat stuck open lets the radiator cool
        a cold engine); airflow from speed and the fan (a failing fan or coolant loss, `cooling_loss`,
        weakens the radiator).
        """
        heat_kw = maf_g_s / 14.7 * 43.0 * 0.45  # combustion heat and friction into the coolant
        opening = min(
            1.0, max(0.0, (coolant_c - self.thermostat_opens_c) / (self.thermostat_full_c - self.thermostat_opens_c))
        )
        opening = max(opening, 0.5 * stuck_open)  # stuck thermostats usually hang half open
        fan = 0.0 if coolant_c < 95.0 else 1.0
        airflow = 0.25 + speed_kmh / 100.0 + fan * (1.0 - cooling_loss)
        radiator_kw_k = 0.5 * self.size * opening * airflow * (1.0 - 0.85 * cooling_loss)
        block_kw_k = 0.025 * self.size * (1.0 + speed_kmh / 80.0)
        loss_kw = (radiator_kw_k + block_kw_k) * (coolant_c - air_c)
        return coolant_c + (heat_kw - loss_kw) * seconds / (self.heat_capacity_kj_k * self.size)

    def cool_down(self, *, coolant_c: float, air_c: float, hours: float) -> float:
        """Engine off: the block cools towards the air (time constant ~2 h)."""
        return air_c + (coolant_c - air_c) * math.exp(-hours / 2.0)


# --- fuel mixture -------------------------------------------------------------------------------


def required_trim_pct(
    *,
    maf_g_s: float,
    load_pct: float,
    vacuum_leak: float = 0.0,
    weak_pump: float = 0.0,
    base_offset_pct: float = 0.0,
    ethanol_pct: float = 0.0,
) -> float:
    """The fuel correction the ECU must add to stay stoichiometric, in percent.

    A vacuum leak adds air the MAF never measured: a large share at idle, a small one at speed. A weak
    pump starves the engine under load. Per-vehicle offsets (injector and sensor tolerance) and
    ethanol-blended fuel (E10 in several provinces) shift the trims of healthy cars too.
    """
    leak_share = 1.4 * vacuum_leak / max(maf_g_s, 1.0)
    starvation = 0.30 * weak_pump * max(0.0, load_pct - 40.0) / 60.0
    return 100.0 * (leak_share + starvation) + base_offset_pct + 0.35 * ethanol_pct


def adapt_trims(*, required_pct: float, long_term_pct: float, seconds: float, noise_pct: float) -> tuple[float, float]:
    """Return (short-term, long-term) fuel trims: the long-term trim learns the persistent part of the
    correction over minutes (clamped at ±25 %), the short-term trim carries the rest plus noise."""
    learned = long_term_pct + (required_pct - long_term_pct) * min(1.0, seconds / 180.0)
    long_term = max(-25.0, min(25.0, learned))
    short_term = max(-25.0, min(25.0, required_pct - long_term + noise_pct))
    return short_term, long_term


# --- oxygen sensors and catalyst -----------------------------------------------------------------

LIGHT_OFF_C = 300.0  # below this the catalyst stores no oxygen: the rear sensor mirrors the front one


def catalyst_temp_c(*, load_pct: float, minutes_running: float, air_c: float, lightoff_min: float = 4.0) -> float:
    warm = min(1.0, minutes_running / lightoff_min)
    return air_c + warm * (380.0 + 4.5 * load_pct)


def o2_voltages(
    *, phase: float, catalyst_c: float, degradation: float, noise: float, dither: float = 1.0
) -> tuple[float, float]:
    """Front (B1S1) and rear (B1S2) narrow-band sensor voltages at one instant.

    The front sensor swings between lean (~0.1 V) and rich (~0.85 V) as the ECU dithers the mixture.
    A working, warm catalyst stores oxygen and smooths the rear sensor to a steady ~0.65 V; as it ages
    (or while it is still cold) the rear sensor starts to follow the front one. `dither`: the share of the
    textbook mixture swing the ECU uses (a wideband-controlled engine dithers less, so its rear sensor
    swings less with the same worn catalyst).
    """
    front = 0.475 + 0.375 * dither * math.sin(phase) + noise
    storage = (1.0 - degradation) * (1.0 if catalyst_c >= LIGHT_OFF_C else catalyst_c / LIGHT_OFF_C)
    rear = storage * (0.65 + 0.2 * noise) + (1.0 - storage) * front
    return min(1.1, max(0.0, front)), min(1.1, max(0.0, rear))


def wideband_current_ma(*, phase: float, dither: float, noise: float) -> float:
    """A wideband upstream sensor's pump current (O2_S1_WR_CURRENT): about 0 mA at lambda 1, positive
    lean, following the same mixture dither as `o2_voltages`."""
    return -0.25 * dither * math.sin(phase) + noise


# --- misfire ------------------------------------------------------------------------------------


def misfire_rate_per_1000_revs(*, coil_wear: float, load_pct: float, humid: bool, healthy_rate: float = 0.02) -> float:
    """Expected misfires per 1,000 revolutions of one cylinder: near zero when healthy (`healthy_rate`,
    which differs between engines and between the cylinders of one), rising steeply as a coil or plug
    wears, worst under load (high cylinder pressure) and in damp weather."""
    load_factor = 0.5 + load_pct / 60.0
    return float((healthy_rate + 40.0 * coil_wear**2.5) * load_factor * (1.3 if humid else 1.0))
