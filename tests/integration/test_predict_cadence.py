"""The same car read by different dongles gives the same features: samples every 1, 10 or 60 s, and Mode 06
misfire counters read once a trip, every minute or with every sample (real TimescaleDB, the features' SQL).

One simulated car (physics at 1 s), a coil on cylinder 2 wearing, ten days; each dongle variant is loaded as
its own vehicle and its daily health indexes are compared with the 1 s, read-once-a-trip reference: neither
the median of the ten days nor the median day's difference may exceed the index's stated tolerance, what a
sparser dongle may add in sampling noise, far below what a failing part moves (docs/prediction.md).
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pytest

from pitcall.local_services import PostgresCluster
from predict.catalog import FailureMode
from predict.features import load_days
from predict.modes import INDEXES
from simulators.bulk_load import load_cars
from simulators.climate import CHINA
from simulators.faults import InjectedFault, Progression
from simulators.history import Cadence
from simulators.scenario import FleetPlan, SimCar, build_fleet
from simulators.trips import Profile
from simulators.variety import Mode06Reads
from store.db import make_engine
from tests.helpers import copy_database

START = date(2026, 4, 6)
DAYS = 10
# (seconds between samples, when Mode 06 is read)
VARIANTS = [
    (1, Mode06Reads.TRIP_END),  # the reference
    (10, Mode06Reads.TRIP_END),
    (60, Mode06Reads.TRIP_END),
    (10, Mode06Reads.EVERY_MINUTE),
    (10, Mode06Reads.EVERY_SAMPLE),
    (60, Mode06Reads.EVERY_SAMPLE),
]
# the largest median day-to-day difference from the reference each index may show (its own units)
TOLERANCE = {
    FailureMode.BATTERY: 1e-9,  # the crank and resting readings do not depend on the driving cadence
    FailureMode.CHARGING_SYSTEM: 0.1,  # V
    FailureMode.THERMOSTAT: 0.12,  # log of heat per kelvin: 12 %
    FailureMode.OVERHEATING: 0.6,  # °C
    FailureMode.FUEL_LEAN: 1.0,  # % of trim
    FailureMode.MISFIRE: 0.15,  # log ratio (a sum of every-minute reads would be ~3.0 off)
    FailureMode.CATALYST: 0.06,  # rear/front swing ratio
}


def the_car() -> SimCar:
    """A commuter in Shanghai with a narrowband front sensor and a conventional alternator, its cylinder 2 coil
    wearing through the ten days (so that Mode 06 has counts to read)."""
    plan = FleetPlan(seed=31, vehicles=40, start=START, days=DAYS, profile="standard")
    car = next(c for c in build_fleet(plan) if c.spec.profile is Profile.COMMUTER and not c.faults
               and c.spec.traits.front_o2.value == "narrowband" and not c.spec.traits.smart_charging
               and not c.spec.unsupported)  # fmt: skip
    onset = datetime.combine(START - timedelta(days=5), time(0), CHINA)
    coil = InjectedFault(FailureMode.MISFIRE, onset, onset + timedelta(days=40), Progression.LINEAR, cylinder=2)
    spec = replace(car.spec, traits=replace(car.spec.traits, install_day=0, park_spells=False), installed_from=None)
    return replace(car, spec=spec, faults=(coil,))


def variant(car: SimCar, n: int, reads: Mode06Reads) -> SimCar:
    spec = replace(car.spec, traits=replace(car.spec.traits, mode06=reads))
    return replace(car, device_id=f"cadence-{n}", vin=car.vin[:-2] + f"{n:02d}", spec=spec)


@pytest.fixture(scope="module")
def loaded(pg: PostgresCluster, template_db: str) -> tuple[str, dict[str, tuple[int, Mode06Reads]]]:
    """The variants loaded as vehicles of one database; device id -> (cadence, Mode 06 reads)."""
    url = pg.url("cadence")
    copy_database(pg.url(), "cadence", template_db)
    car = the_car()
    ids = {}
    for n, (every, reads) in enumerate(VARIANTS):
        one = variant(car, n, reads)
        load_cars(url, [one], start=START, days=DAYS, cadence=Cadence(sample_every_s=every, step_s=1))
        ids[one.device_id] = (every, reads)
    return url, ids


@pytest.fixture(scope="module")
def indexes(
    loaded: tuple[str, dict[str, tuple[int, Mode06Reads]]],
) -> dict[tuple[int, Mode06Reads], dict[FailureMode, dict[date, float]]]:
    url, ids = loaded
    out: dict[tuple[int, Mode06Reads], dict[FailureMode, dict[date, float]]] = {}
    db = make_engine(url)
    with db.begin() as conn:
        vehicle_of: dict[int, str] = dict(conn.exec_driver_sql("SELECT vehicle_id, device_id FROM devices").all())
        for vday in load_days(conn, first=START, last=START + timedelta(days=DAYS - 1)):
            key = ids[vehicle_of[vday.vehicle_id]]
            for mode, spec in INDEXES.items():
                if (value := spec.index(vday.features)) is not None:
                    out.setdefault(key, {}).setdefault(mode, {})[vday.day] = value
    db.dispose()
    return out


@pytest.mark.parametrize(("every", "reads"), VARIANTS[1:])
@pytest.mark.parametrize("mode", list(FailureMode))
def test_each_index_is_the_same_whatever_the_dongle(
    indexes: dict[tuple[int, Mode06Reads], dict[FailureMode, dict[date, float]]],
    mode: FailureMode,
    every: int,
    reads: Mode06Reads,
) -> None:
    reference, other = indexes[VARIANTS[0]].get(mode, {}), indexes[(every, reads)].get(mode, {})
    days = sorted(set(reference) & set(other))
    assert len(days) >= DAYS // 2, f"{mode.value}: {len(days)} days with an index at both rates"
    differences = [abs(other[d] - reference[d]) for d in days]
    bias = abs(statistics.median(other[d] for d in days) - statistics.median(reference[d] for d in days))
    assert bias <= TOLERANCE[mode], (mode.value, every, reads.value, bias)  # no systematic difference
    assert statistics.median(differences) <= TOLERANCE[mode], (mode.value, every, reads.value, differences)


def test_the_counts_are_the_cycles_not_the_sum_of_their_reads(
    loaded: tuple[str, dict[str, tuple[int, Mode06Reads]]],
    indexes: dict[tuple[int, Mode06Reads], dict[FailureMode, dict[date, float]]],
) -> None:
    """Summing a day's counter readings (the features of 2026.12.06a) multiplies the count by how often the
    dongle read it: tens of times for every-minute reads. The coil's counts are real on every variant."""
    url, ids = loaded
    db = make_engine(url)
    with db.connect() as conn:
        sums: dict[str, float] = dict(conn.exec_driver_sql(
            "SELECT d.device_id, sum((t.pids->>'MONITOR_MISFIRE_CYLINDER_2.MISFIRE_COUNT')::float8)"
            " FROM telemetry t JOIN devices d ON d.vehicle_id = t.vehicle_id GROUP BY d.device_id").all())  # fmt: skip
    db.dispose()
    by_variant = {ids[device]: total for device, total in sums.items()}
    assert by_variant[(10, Mode06Reads.EVERY_MINUTE)] > 10 * by_variant[(10, Mode06Reads.TRIP_END)]
    for key, modes in indexes.items():
        assert statistics.median(modes[FailureMode.MISFIRE].values()) > 1.0, key
