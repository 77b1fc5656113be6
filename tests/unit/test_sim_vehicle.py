"""A simulated car: healthy days look healthy, and each fault shows in the signals a mechanic expects."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from statistics import mean, pstdev

from predict.catalog import FailureMode
from simulators.climate import REGIONS, Weather
from simulators.faults import InjectedFault, Progression
from simulators.vehicle import SimulatedRecord, VehicleSim, VehicleSpec

JANUARY = date(2026, 1, 12)  # a Monday
JULY = date(2026, 7, 6)
FAILED_ALREADY = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC))


def _run(
    region: str,
    start: date,
    days: int,
    *,
    mode: FailureMode | None = None,
    cylinder: int | None = None,
    spec: VehicleSpec | None = None,
) -> tuple[VehicleSim, list[SimulatedRecord]]:
    faults = [InjectedFault(mode, *FAILED_ALREADY, Progression.LINEAR, cylinder)] if mode else []
    sim = VehicleSim(spec or VehicleSpec(vin="LSVAU2180N2183294"), Weather(REGIONS[region], 5), faults, seed=11)
    records = [r for d in range(days) for r in sim.day(start + timedelta(days=d))]
    return sim, records


def _values(records: list[SimulatedRecord], pid: str) -> list[float]:
    return [v for r in records if (v := r.readings.get(pid)) is not None]


def test_a_healthy_week_in_shanghai() -> None:
    sim, records = _run("shanghai", JULY, 7)
    assert [r.ts for r in records] == sorted(r.ts for r in records)
    assert not sim.failed_starts
    assert max(_values(records, "COOLANT_TEMP")) > 85
    assert abs(mean(_values(records, "LONG_FUEL_TRIM_1"))) < 5
    misfires = [v for r in records for k, v in r.readings.items() if k.endswith("MISFIRE_COUNT") and v is not None]
    assert misfires and max(misfires) <= 5
    driving = [r for r in records if "RPM" in r.readings]
    assert len(driving) > 5 * 2 * 20 * 60  # two commutes of 20+ minutes on workdays
    assert 14.0 < mean(_values(driving, "CONTROL_MODULE_VOLTAGE")) < 14.7


def test_deterministic() -> None:
    assert _run("beijing", JULY, 2)[1] == _run("beijing", JULY, 2)[1]


def test_a_worn_battery_in_harbin_winter_fails_to_start_and_dips_deeper() -> None:
    healthy, healthy_records = _run("harbin", JANUARY, 7)
    worn, worn_records = _run("harbin", JANUARY, 7, mode=FailureMode.BATTERY)
    assert not healthy.failed_starts and worn.failed_starts
    dips = [min(_values([r], "ELM_VOLTAGE")) for r in healthy_records if len(r.readings) == 1]
    worn_dips = [min(_values([r], "ELM_VOLTAGE")) for r in worn_records if len(r.readings) == 1]
    assert min(worn_dips) < min(dips) - 1.0


def test_a_thermostat_stuck_open_runs_cold_in_winter() -> None:
    _, healthy = _run("harbin", JANUARY, 3)
    _, stuck = _run("harbin", JANUARY, 3, mode=FailureMode.THERMOSTAT)
    assert max(_values(healthy, "COOLANT_TEMP")) > 80
    assert max(_values(stuck, "COOLANT_TEMP")) < 72


def test_a_vacuum_leak_pushes_long_term_trim_up() -> None:
    _, leak = _run("shanghai", JULY, 3, mode=FailureMode.FUEL_LEAN)
    assert mean(_values(leak, "LONG_FUEL_TRIM_1")) > 8


def test_an_aged_catalyst_lets_the_rear_o2_follow_the_front() -> None:
    def rear_spread(records: list[SimulatedRecord]) -> float:
        warm = [r for r in records if (r.readings.get("COOLANT_TEMP") or 0) > 80]
        return pstdev(_values(warm, "O2_B1S2"))

    assert rear_spread(_run("guangzhou", JULY, 2, mode=FailureMode.CATALYST)[1]) > 4 * rear_spread(
        _run("guangzhou", JULY, 2)[1]
    )


def test_a_worn_coil_misfires_on_its_cylinder() -> None:
    _, records = _run("chengdu", JULY, 3, mode=FailureMode.MISFIRE, cylinder=2)
    counts = {c: sum(_values(records, f"MONITOR_MISFIRE_CYLINDER_{c}.MISFIRE_COUNT")) for c in range(1, 5)}
    assert counts[2] > 20 * max(1.0, counts[1] + counts[3] + counts[4])


def test_unsupported_pids_are_absent() -> None:
    spec = VehicleSpec(vin="LSVAU2180N2183294", unsupported=frozenset({"MAF", "CATALYST_TEMP_B1S1"}))
    _, records = _run("shanghai", JULY, 1, spec=spec)
    assert not _values(records, "MAF") and not _values(records, "CATALYST_TEMP_B1S1") and _values(records, "RPM")
