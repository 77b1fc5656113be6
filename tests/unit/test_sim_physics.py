"""The simulator's physics behaves the way a mechanic expects (and faults act through it)."""

from __future__ import annotations

from simulators.physics import (
    CRANK_CUTOUT_V,
    Battery,
    CoolingSystem,
    charging_v,
    cranking_dip_v,
    parked_soc,
    surface_charge_v,
)

BATTERY = Battery()


def test_resting_voltage_tracks_charge() -> None:
    assert 12.6 < BATTERY.open_circuit_v(1.0, 25) < 12.8
    assert 12.2 < BATTERY.open_circuit_v(0.4, 25) < 12.35
    assert surface_charge_v(0) > 0.2 > surface_charge_v(6)


def test_cranking_dip_healthy_cold_and_weak() -> None:
    warm = cranking_dip_v(BATTERY, soc=0.9, temp_c=25, displacement_l=1.5, fault=0.0)
    cold = cranking_dip_v(BATTERY, soc=0.9, temp_c=-25, displacement_l=1.5, fault=0.0)
    weak_warm = cranking_dip_v(BATTERY, soc=0.9, temp_c=25, displacement_l=1.5, fault=0.7)
    weak_cold = cranking_dip_v(BATTERY, soc=0.7, temp_c=-25, displacement_l=1.5, fault=0.8)
    assert 10.5 < warm < 11.6  # a good battery on a mild day
    assert CRANK_CUTOUT_V < cold < warm  # deep cold pulls a good battery down, but it still starts
    assert weak_warm < warm - 0.8
    assert weak_cold < CRANK_CUTOUT_V  # a weak battery on a Harbin morning: no start


def test_parking_drains_a_worn_battery_faster() -> None:
    healthy = parked_soc(0.9, hours=24 * 14, drain_a=0.03, battery=BATTERY, fault=0.0)
    worn = parked_soc(0.9, hours=24 * 14, drain_a=0.03, battery=BATTERY, fault=0.8)
    assert 0.6 < healthy < 0.9 and worn < healthy - 0.15


def test_charging_voltage_and_a_failing_alternator() -> None:
    normal = charging_v(temp_c=25, electrical_load=0.4, rpm=2000, fault=0.0)
    cold = charging_v(temp_c=-20, electrical_load=0.4, rpm=2000, fault=0.0)
    failing_idle_night = charging_v(temp_c=25, electrical_load=0.8, rpm=750, fault=0.8)
    assert 14.1 < normal < 14.6 and cold > normal
    assert failing_idle_night < 13.0


def _warm_up(air_c: float, minutes: int, **fault: float) -> float:
    cooling, coolant = CoolingSystem(), air_c
    for second in range(minutes * 60):
        speed = 40.0 if second % 120 < 90 else 0.0  # city driving
        coolant = cooling.step(
            coolant_c=coolant, air_c=air_c, maf_g_s=9.0 if speed else 3.0, speed_kmh=speed, seconds=1.0, **fault
        )
    return coolant


def test_warm_up_regulates_near_90() -> None:
    assert 70 < _warm_up(20, 8) < 95
    assert 84 < _warm_up(20, 25) < 98
    assert 80 < _warm_up(-20, 30) < 98


def test_thermostat_stuck_open_runs_cold_in_winter() -> None:
    assert _warm_up(-15, 30, stuck_open=0.9) < 70
    assert _warm_up(-15, 30, stuck_open=0.9) < _warm_up(-15, 30) - 15


def test_cooling_loss_overheats_under_load_in_traffic() -> None:
    cooling, coolant = CoolingSystem(), 90.0
    for _ in range(15 * 60):  # climbing slowly in summer traffic
        coolant = cooling.step(coolant_c=coolant, air_c=35, maf_g_s=25.0, speed_kmh=10, seconds=1.0, cooling_loss=0.8)
    assert coolant > 105
    healthy = 90.0
    for _ in range(15 * 60):
        healthy = cooling.step(coolant_c=healthy, air_c=35, maf_g_s=25.0, speed_kmh=10, seconds=1.0)
    assert healthy < 102


def test_a_vacuum_leak_shows_most_at_idle() -> None:
    from simulators.physics import required_trim_pct

    idle = required_trim_pct(maf_g_s=2.5, load_pct=20, vacuum_leak=0.5)
    cruise = required_trim_pct(maf_g_s=18.0, load_pct=45, vacuum_leak=0.5)
    assert idle > 20 and cruise < 6
    pump = required_trim_pct(maf_g_s=30.0, load_pct=90, weak_pump=0.8)
    assert pump > 15 > required_trim_pct(maf_g_s=8.0, load_pct=30, weak_pump=0.8)
    assert 2 < required_trim_pct(maf_g_s=8.0, load_pct=30, ethanol_pct=10) < 5  # E10 fuel, healthy car


def test_long_term_trim_learns_the_persistent_correction() -> None:
    from simulators.physics import adapt_trims

    long_term = 0.0
    for _ in range(600):
        short_term, long_term = adapt_trims(required_pct=12.0, long_term_pct=long_term, seconds=1.0, noise_pct=0.0)
    assert 11.5 < long_term <= 12.0 and abs(short_term) < 0.5
    assert adapt_trims(required_pct=60.0, long_term_pct=24.9, seconds=600.0, noise_pct=0.0)[1] == 25.0


def test_rear_o2_follows_the_front_as_the_catalyst_ages() -> None:
    import math
    from statistics import pstdev

    from simulators.physics import o2_voltages

    def rear_spread(degradation: float, catalyst_c: float) -> float:
        return pstdev(
            o2_voltages(phase=i * 2.1, catalyst_c=catalyst_c, degradation=degradation, noise=0.0)[1] for i in range(200)
        )

    front_spread = pstdev(o2_voltages(phase=i * 2.1, catalyst_c=600, degradation=0.0, noise=0.0)[0] for i in range(200))
    assert rear_spread(0.0, 600) < 0.02 < front_spread
    assert rear_spread(0.8, 600) > 0.7 * 0.8 * front_spread
    assert rear_spread(0.0, 150) > 0.4 * front_spread  # a cold catalyst fools a naive detector
    assert not math.isnan(rear_spread(1.0, 600))


def test_misfires_rise_steeply_with_coil_wear_and_load() -> None:
    from simulators.physics import misfire_rate_per_1000_revs

    healthy = misfire_rate_per_1000_revs(coil_wear=0.0, load_pct=40, humid=False)
    worn = misfire_rate_per_1000_revs(coil_wear=0.6, load_pct=40, humid=False)
    assert healthy < 0.05 and worn > 100 * healthy
    assert misfire_rate_per_1000_revs(coil_wear=0.6, load_pct=80, humid=True) > worn
