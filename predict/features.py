"""Daily features per vehicle, computed in TimescaleDB from the raw samples of each local day.

One SQL pass aggregates a day of samples into the physical quantities the detectors read: resting and
cranking battery voltage, charging voltage, how warm the engine got, how hot it ran under load, fuel
trims at idle and at cruise, the rear/front O2 swing ratio, Mode 06 misfire counts per cylinder, and
the day's weather. The aggregates do not depend on the sampling rate (1 Hz or one sample a minute
give the same medians and the same driving minutes), so other dongles and other fleets fit.

Per trip (driving samples with no gap over 5 minutes), a second pass measures what only a trip shows:
the heat the engine needed to warm its coolant from a cold start to 80 °C (a thermostat stuck open lets
the radiator take heat from the first minute), and the regulated voltage above 1,500 rpm with the air
temperature of the same minutes. `summarise_trips` turns a day's trips into day features.

Data quality is judged here as well: a day of impossible readings or frozen signals is `garbage` and
never scored; a day with too little driving is `sparse`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, text

Features = dict[str, float | None]
MAX_CYLINDERS = 8


class Quality(StrEnum):
    OK = "ok"
    SPARSE = "sparse"
    GARBAGE = "garbage"


@dataclass(frozen=True, slots=True)
class VehicleDay:
    vehicle_id: int
    day: date
    features: Features
    quality: Quality
    dtc_pending: tuple[str, ...] = ()
    dtc_stored: tuple[str, ...] = ()

    @property
    def data_time(self) -> datetime:
        """When the day's last sample was taken (the `observed_at` of an alert raised on it), else the start
        of the day (UTC) for a day kept without one."""
        last_epoch = self.features.get("last_epoch")
        return datetime.fromtimestamp(last_epoch, UTC) if last_epoch else datetime.combine(self.day, time.min, UTC)


PIDS = (
    "RPM", "COOLANT_TEMP", "ELM_VOLTAGE", "LONG_FUEL_TRIM_1", "SHORT_FUEL_TRIM_1", "SPEED", "ENGINE_LOAD",
    "O2_B1S1", "O2_B1S2", "O2_S1_WR_CURRENT", "CONTROL_MODULE_VOLTAGE", "AMBIANT_AIR_TEMP", "INTAKE_TEMP",
    *(f"MONITOR_MISFIRE_CYLINDER_{c}.MISFIRE_COUNT" for c in range(1, MAX_CYLINDERS + 1)),
)  # fmt: skip


def _f(pid: str) -> str:
    assert pid in PIDS, pid
    return f't."{pid}"'


def _samples(since: str) -> str:
    """Every sample from the bind parameter `since` to `:until`, with the PIDs the features read as columns.

    One jsonb_to_record per sample parses each value once; `(pids->>'RPM')::float8` in every aggregate and
    filter converted the same number from jsonb to text to float ~20 times per sample (PostgreSQL does not
    share the expressions). The bounds are timestamptz constants computed in Python (`load_days`), so the
    planner sees them: with `ts >= CAST(:first AS date) - 1` it guessed a handful of rows per chunk and
    picked index scans and nested loops (2-3x slower on 5 M samples)."""
    return f"""
  SELECT t.vehicle_id, t.ts, t.ts AT TIME ZONE st.timezone AS local_ts, (t.ts AT TIME ZONE st.timezone)::date AS day,
    t.pids ? 'RPM' AS engine_answered, p.*
  FROM telemetry t
  JOIN vehicles v ON v.id = t.vehicle_id
  JOIN stores st ON st.id = v.store_id
  CROSS JOIN LATERAL jsonb_to_record(t.pids) AS p({", ".join(f'"{pid}" float8' for pid in PIDS)})
  WHERE t.ts >= :{since} AND t.ts < :until
    AND (CAST(:vehicle_ids AS int[]) IS NULL OR t.vehicle_id = ANY(CAST(:vehicle_ids AS int[])))
"""


# Local days run from UTC-12 to UTC+14; a trip is measured from its start, up to 6 hours before its day.
EARLIEST_UTC_OFFSET, LATEST_UTC_OFFSET = timedelta(hours=-12), timedelta(hours=14)
TRIP_LEAD_IN_H = 6
FEATURES_WORK_MEM = "256MB"  # the day's samples are sorted per vehicle: in memory, not in temporary files

RPM, COOLANT, VOLT = _f("RPM"), _f("COOLANT_TEMP"), _f("ELM_VOLTAGE")
# The system voltage the ECU reads, else the dongle's own reading of the same supply (a car that does not
# answer CONTROL_MODULE_VOLTAGE is compared with itself on the dongle's scale).
SYSTEM_V = f"coalesce({_f('CONTROL_MODULE_VOLTAGE')}, {VOLT})"
TRIM = f"({_f('LONG_FUEL_TRIM_1')} + coalesce({_f('SHORT_FUEL_TRIM_1')}, 0))"
DRIVING = f"{RPM} > 400"
WARM = f"{DRIVING} AND {COOLANT} >= 75"
# Parked: the dongle read no RPM at all (the key is absent). A driving sample whose RPM read failed
# carries "RPM": null, and its charging voltage must not count as a resting one.
PARKED = "NOT t.engine_answered"
COUNTERS = [_f(f"MONITOR_MISFIRE_CYLINDER_{c}.MISFIRE_COUNT") for c in range(1, MAX_CYLINDERS + 1)]
ANY_COUNTER = "(" + " OR ".join(f"{c} IS NOT NULL" for c in COUNTERS) + ")"
IMPOSSIBLE = f"""(
    {RPM} NOT BETWEEN 0 AND 10000 OR {COOLANT} NOT BETWEEN -45 AND 150 OR {VOLT} NOT BETWEEN 3 AND 18
    OR {_f("SPEED")} NOT BETWEEN 0 AND 300 OR abs({_f("LONG_FUEL_TRIM_1")}) > 100
    OR {_f("O2_B1S2")} NOT BETWEEN 0 AND 1.5 OR {_f("CONTROL_MODULE_VOLTAGE")} NOT BETWEEN 3 AND 18)"""

DAILY_SQL = f"""
WITH days AS (
  SELECT t.vehicle_id, t.day,
    count(*) AS samples,
    extract(epoch FROM max(t.ts)) AS last_epoch,
    count(*) FILTER (WHERE {DRIVING}) AS driving_samples,
    count(DISTINCT date_trunc('minute', t.ts)) FILTER (WHERE {DRIVING}) AS drive_min,
    count(*) FILTER (WHERE {IMPOSSIBLE}) AS impossible,
    stddev_pop({RPM}) FILTER (WHERE {DRIVING}) AS rpm_sd,
    stddev_pop({COOLANT}) FILTER (WHERE {DRIVING}) AS coolant_sd,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY {VOLT}) FILTER (WHERE {PARKED}) AS rest_v,
    min({VOLT}) FILTER (WHERE {PARKED}) AS crank_v,
    min({COOLANT}) FILTER (WHERE {DRIVING}) AS cold_start_c,
    coalesce(avg({_f("AMBIANT_AIR_TEMP")}), percentile_cont(0.1) WITHIN GROUP (ORDER BY {_f("INTAKE_TEMP")}) - 5)
      AS air_c,
    percentile_cont(0.1) WITHIN GROUP (ORDER BY {_f("CONTROL_MODULE_VOLTAGE")}) FILTER (WHERE {DRIVING})
      AS charge_v_p10,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY {_f("CONTROL_MODULE_VOLTAGE")}) FILTER (WHERE {RPM} > 1500)
      AS charge_v_high_rpm,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY {SYSTEM_V}) FILTER (WHERE {DRIVING}) AS charge_v_peak,
    max({COOLANT}) FILTER (WHERE {DRIVING}) AS coolant_max,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY {COOLANT}) FILTER (WHERE {DRIVING}) AS coolant_p90,
    avg({COOLANT}) FILTER (WHERE {DRIVING} AND {COOLANT} >= 80) AS coolant_warm_mean,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY {COOLANT}) FILTER (WHERE {DRIVING} AND {_f("ENGINE_LOAD")} > 40)
      AS coolant_loaded_p90,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY {TRIM}) FILTER (WHERE {WARM} AND {RPM} < 1000) AS trim_idle,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY {TRIM}) FILTER (WHERE {WARM} AND {RPM} >= 1800) AS trim_cruise,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY {TRIM}) FILTER (WHERE {WARM}) AS trim_warm,
    stddev_pop({_f("O2_B1S2")}) FILTER (WHERE {WARM}) / nullif(stddev_pop({_f("O2_B1S1")}) FILTER (WHERE {WARM}), 0)
      AS o2_ratio,
    count({_f("O2_B1S2")}) FILTER (WHERE {WARM}) AS o2_samples
  FROM ({_samples("since")}) t
  GROUP BY t.vehicle_id, t.day
)
SELECT * FROM days WHERE day BETWEEN :first AND :last ORDER BY day, vehicle_id
"""


# Heat into the coolant ~ fuel burnt ~ air inducted ~ rpm x calculated load: counted in full-load revolutions.
def _heat_step(seconds: str) -> str:
    return f"(s.rpm / 60.0) * (s.load / 100.0) * {seconds}"


HEAT_STEP = _heat_step("s.dt")
# Heat the radiator must reject per kelvin of coolant over air (a thermostat opens further, and the coolant
# sits higher in its band, as this rises): 1,000 x rpm x load / (coolant - air).
DEMAND = "s.rpm * s.load / 1000.0 / (s.coolant - s.trip_air)"
TRIP_GAP_S = 300  # a pause longer than this ends a trip
# A catalyst stores oxygen only above its light-off temperature, minutes into a drive (after any stop long
# enough to end a trip it has cooled): the O2 sensors are compared only after this, with the engine warm,
# as an OBD catalyst monitor waits for steady warm driving.
CATALYST_LIT_AFTER_S = 300
CATALYST_MIN_TRIP_S = 600
UNFINISHED_WARMUP_S = 600  # a healthy engine past 50 °C reaches 80 °C well within 10 minutes of driving
WARM_FROM_C, WARM_TO_C = 50.0, 80.0  # the warm-up segment measured: below any thermostat's opening


def _at_crossing(level: float, running: str, step: str) -> str:
    """A running quantity interpolated to the moment the coolant first rose through `level` in the trip:
    its value at that sample minus `step` times the share of the last interval spent above `level`."""
    beyond = f"(s.coolant - {level}) / nullif(s.coolant - s.prev_c, 0)"
    crossed = f"s.coolant >= {level} AND s.prev_c < {level} AND s.dt > 0"
    return f"(array_agg({running} - {step} * {beyond} ORDER BY s.ts) FILTER (WHERE {crossed}))[1]"


# The catalyst is judged in the later part of longer drives only: a catalyst needs minutes to light off (more
# in cold air, at idle, on a slow engine), and one that has not yet lit lets the rear sensor follow the front
# like a worn one. A sample counts `CATALYST_LIT_AFTER_S` into a trip of `CATALYST_MIN_TRIP_S` and in its
# second half, with the engine warm (as an OBD catalyst monitor waits for steady warm driving).
LIT = f"""s.driving
      AND s.ts >= s.trip_start + greatest(interval '{CATALYST_LIT_AFTER_S} seconds', (s.trip_end - s.trip_start) / 2)
      AND s.trip_end - s.trip_start >= interval '{CATALYST_MIN_TRIP_S} seconds' AND s.coolant >= 75
      AND s.o2_rear IS NOT NULL"""
# After a start the alternator recharges what the crank took, smart ones too (`charge_v_early`): read off idle
# (a heavy electrical load at idle pulls any alternator down) in the first minutes after the start.
EARLY_S = 300

TRIP_SQL = f"""
WITH raw AS (
  -- driving samples, and Mode 06 counter readings (some dongles read them alone, as the trip ends)
  SELECT t.vehicle_id, t.ts, t.day, coalesce({DRIVING}, false) AS driving,
    {RPM} AS rpm, {COOLANT} AS coolant, {_f("ENGINE_LOAD")} AS load, {_f("SPEED")} AS speed,
    {SYSTEM_V} AS volts,
    {_f("AMBIANT_AIR_TEMP")} AS ambient, {_f("INTAKE_TEMP")} AS intake,
    {_f("O2_B1S1")} AS o2_front, {_f("O2_S1_WR_CURRENT")} AS o2_wide, {_f("O2_B1S2")} AS o2_rear,
    {", ".join(f"{c} AS m{i}" for i, c in enumerate(COUNTERS, 1))}
  FROM ({_samples("trip_since")}) t
  WHERE ({DRIVING} OR {ANY_COUNTER}) AND t.local_ts >= CAST(:first AS timestamp) - interval '{TRIP_LEAD_IN_H} hours'
), gaps AS (
  SELECT raw.*, extract(epoch FROM raw.ts - lag(raw.ts) OVER w) AS gap,
    extract(epoch FROM raw.ts - lag(raw.ts) OVER d) AS dgap, lag(raw.coolant) OVER d AS prev_c
  FROM raw
  WINDOW w AS (PARTITION BY raw.vehicle_id ORDER BY raw.ts),
    d AS (PARTITION BY raw.vehicle_id, raw.driving ORDER BY raw.ts)
), trips AS (
  -- `heat` runs over the vehicle's samples, not per trip: only differences within a trip are read, and one
  -- window (one sort) serves the trip number and the heat. A counter reading (no RPM) adds no heat.
  SELECT s.*,
    sum(CASE WHEN gap IS NULL OR gap > {TRIP_GAP_S} THEN 1 ELSE 0 END) OVER w AS trip,
    CASE WHEN NOT s.driving OR dgap IS NULL OR dgap > {TRIP_GAP_S} THEN 0 ELSE dgap END AS dt,
    sum(CASE WHEN NOT s.driving OR dgap IS NULL OR dgap > {TRIP_GAP_S} THEN 0 ELSE {_heat_step("s.dgap")} END)
      OVER w AS heat
  FROM gaps s WINDOW w AS (PARTITION BY s.vehicle_id ORDER BY s.ts)
), s AS (
  SELECT s.*, coalesce(avg(s.ambient) OVER t, min(s.intake) OVER t) AS trip_air,
    min(s.ts) FILTER (WHERE s.driving) OVER t AS trip_start, max(s.ts) FILTER (WHERE s.driving) OVER t AS trip_end
  FROM trips s WINDOW t AS (PARTITION BY s.vehicle_id, s.trip)
)
SELECT s.vehicle_id, min(s.day) AS day, s.trip,
  extract(epoch FROM max(s.ts) FILTER (WHERE s.driving) - min(s.ts) FILTER (WHERE s.driving)) AS duration_s,
  (array_agg(s.coolant ORDER BY s.ts) FILTER (WHERE s.driving))[1] AS start_c,
  max(s.coolant) AS max_c,
  min(s.trip_air) AS air_c,  -- the ambient sensor, or the intake air at the start of a drive
  {_at_crossing(WARM_FROM_C, "s.heat", HEAT_STEP)} AS heat_at_from,
  {_at_crossing(WARM_TO_C, "s.heat", HEAT_STEP)} AS heat_at_to,
  {_at_crossing(WARM_FROM_C, "extract(epoch FROM s.ts)", "s.dt")} AS epoch_at_from,
  {_at_crossing(WARM_TO_C, "extract(epoch FROM s.ts)", "s.dt")} AS epoch_at_to,
  max(s.heat) AS heat_total,
  extract(epoch FROM max(s.ts) FILTER (WHERE s.driving))
    - {_at_crossing(WARM_FROM_C, "extract(epoch FROM s.ts)", "s.dt")} AS seconds_after_from,
  -- how long the engine idled while warming from 50 to 80 °C (a winter warm-up at idle is not a drive)
  sum(s.dt) FILTER (WHERE s.driving AND s.speed < 3 AND s.prev_c >= {WARM_FROM_C}
                    AND s.prev_c < {WARM_TO_C}) AS idle_s_warming,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY s.volts) FILTER (WHERE s.rpm > 1500) AS volts_high_rpm,
  percentile_cont(0.75) WITHIN GROUP (ORDER BY s.volts) FILTER (WHERE s.rpm > 1200
    AND s.ts < s.trip_start + interval '{EARLY_S} seconds') AS volts_early,
  avg(s.load) FILTER (WHERE s.driving) AS mean_load,
  coalesce(avg(s.ambient) FILTER (WHERE s.rpm > 1500), avg(s.ambient), min(s.intake)) AS air_high_rpm,
  sum(s.rpm / 60.0 * s.dt) AS revs,
  count(*) FILTER (WHERE s.coolant >= {WARM_TO_C}) AS warm_samples,
  sum(s.dt) FILTER (WHERE s.coolant >= {WARM_TO_C}) AS warm_seconds,
  avg(s.coolant) FILTER (WHERE s.coolant >= {WARM_TO_C}) AS warm_c,
  avg({DEMAND}) FILTER (WHERE s.coolant >= {WARM_TO_C} AND s.coolant > s.trip_air + 20) AS warm_demand,
  count(*) FILTER (WHERE {LIT}) AS lit_n,
  count(s.o2_front) FILTER (WHERE {LIT}) AS lit_front_n,
  sum(s.o2_front) FILTER (WHERE {LIT}) AS front_sum, sum(s.o2_front * s.o2_front) FILTER (WHERE {LIT}) AS front_sq,
  sum(s.o2_rear) FILTER (WHERE {LIT}) AS rear_sum, sum(s.o2_rear * s.o2_rear) FILTER (WHERE {LIT}) AS rear_sq,
  -- Mode 06: the count of the driving cycle, however often it was read (a counter, not a rate: the last or
  -- largest reading of the trip, never a sum of readings)
  {", ".join(f"max(s.m{i}) AS misfire_c{i}" for i in range(1, MAX_CYLINDERS + 1))}
FROM s
GROUP BY s.vehicle_id, s.trip
HAVING min(s.day) BETWEEN :first AND :last AND bool_or(s.driving)
"""

DTC_SQL = """
SELECT d.vehicle_id, (d.ts AT TIME ZONE s.timezone)::date AS day,
       array_agg(DISTINCT p) FILTER (WHERE p IS NOT NULL) AS pending,
       array_agg(DISTINCT c) FILTER (WHERE c IS NOT NULL) AS stored
FROM dtc_events d
JOIN vehicles v ON v.id = d.vehicle_id
JOIN stores s ON s.id = v.store_id
LEFT JOIN LATERAL unnest(d.pending) p ON true
LEFT JOIN LATERAL unnest(d.stored) c ON true
WHERE d.ts >= :since AND d.ts < :until
GROUP BY d.vehicle_id, day
"""


def load_days(conn: Connection, *, first: date, last: date, vehicle_ids: list[int] | None = None) -> list[VehicleDay]:
    """Compute the features of every vehicle-day in [first, last] (local days of each vehicle's store)."""
    since = datetime.combine(first, time.min, UTC) - LATEST_UTC_OFFSET
    until = datetime.combine(last + timedelta(days=1), time.min, UTC) - EARLIEST_UTC_OFFSET
    params = {
        "first": first, "last": last, "vehicle_ids": vehicle_ids,
        "since": since, "until": until, "trip_since": since - timedelta(hours=TRIP_LEAD_IN_H),
    }  # fmt: skip
    conn.execute(text(f"SET LOCAL work_mem = '{FEATURES_WORK_MEM}'"))
    dtcs = {
        (r.vehicle_id, r.day): (tuple(r.pending or ()), tuple(r.stored or ()))
        for r in conn.execute(text(DTC_SQL), params)
    }
    trips: dict[tuple[int, date], list[Mapping[Any, Any]]] = {}
    for trip in conn.execute(text(TRIP_SQL), params).mappings():
        trips.setdefault((trip["vehicle_id"], trip["day"]), []).append(trip)
    days = []
    for row in conn.execute(text(DAILY_SQL), params).mappings():
        features = derive(row) | summarise_trips(trips.get((row["vehicle_id"], row["day"]), []))
        features |= misfire_features(features)
        pending, stored = dtcs.get((row["vehicle_id"], row["day"]), ((), ()))
        days.append(VehicleDay(row["vehicle_id"], row["day"], features, judge(features), pending, stored))
    return days


INPUTS_SQL = f"""
SELECT t.vehicle_id, count(*) AS n, 'samples' AS kind
FROM telemetry t JOIN vehicles v ON v.id = t.vehicle_id JOIN stores st ON st.id = v.store_id
WHERE t.ts >= :since AND t.ts < :until
  AND t.ts AT TIME ZONE st.timezone >= CAST(:day AS timestamp)
  AND t.ts AT TIME ZONE st.timezone < CAST(:day AS timestamp) + interval '{24 + TRIP_LEAD_IN_H} hours'
GROUP BY t.vehicle_id
UNION ALL
SELECT d.vehicle_id, count(*), 'dtcs'
FROM dtc_events d JOIN vehicles v ON v.id = d.vehicle_id JOIN stores st ON st.id = v.store_id
WHERE d.ts >= :since AND d.ts < :until AND (d.ts AT TIME ZONE st.timezone)::date = :day
GROUP BY d.vehicle_id
"""

DayInputs = dict[int, tuple[int, int]]  # vehicle id -> (samples, DTC reports) a day's features are computed from


def day_inputs(conn: Connection, *, day: date) -> DayInputs:
    """How many samples (the local day and the hours its last trips run into) and DTC reports each vehicle
    has for `day`: ingest only adds rows (duplicates are dropped), so an unchanged count means unchanged
    features, and the live service need not recompute them."""
    since = datetime.combine(day, time.min, UTC) - LATEST_UTC_OFFSET
    until = datetime.combine(day + timedelta(days=1), time.min, UTC) - EARLIEST_UTC_OFFSET
    params = {"day": day, "since": since, "until": until + timedelta(hours=TRIP_LEAD_IN_H)}
    counts: dict[int, dict[str, int]] = {}
    for vehicle_id, n, kind in conn.execute(text(INPUTS_SQL), params):
        counts.setdefault(vehicle_id, {})[kind] = n
    return {v: (c.get("samples", 0), c.get("dtcs", 0)) for v, c in counts.items()}


def data_days(days: Iterable[VehicleDay], *, last: date) -> Iterator[tuple[date, list[VehicleDay]]]:
    """Walk the calendar from the earliest vehicle-day to `last`, one data day at a time, with the
    vehicle-days of each (none on a day without data): how replay, backtest and training feed an engine."""
    by_day: dict[date, list[VehicleDay]] = {}
    for vday in days:
        by_day.setdefault(vday.day, []).append(vday)
    day = min(by_day, default=last + timedelta(days=1))
    while day <= last:
        yield day, by_day.get(day, [])
        day += timedelta(days=1)


def derive(row: Mapping[Any, Any]) -> Features:
    """Turn one aggregated row into named features (pure)."""
    raw = {k: _num(v) for k, v in row.items() if k not in ("vehicle_id", "day")}
    features: Features = {
        k: raw.get(k)
        for k in (
            "samples", "last_epoch", "driving_samples", "drive_min", "impossible", "rpm_sd", "coolant_sd", "rest_v",
            "crank_v", "cold_start_c", "air_c", "charge_v_p10", "charge_v_high_rpm", "charge_v_peak", "coolant_max",
            "coolant_p90", "coolant_warm_mean", "coolant_loaded_p90", "trim_idle", "trim_cruise", "trim_warm",
            "o2_ratio", "o2_samples",
        )
    }  # fmt: skip
    rest, crank = features["rest_v"], features["crank_v"]
    features["crank_sag_v"] = rest - crank if rest is not None and crank is not None and crank < rest else None
    return features


def misfire_features(features: Features) -> Features:
    """The day's Mode 06 picture from its per-cylinder counts (`misfire_c1..8`, each the sum over the day's
    driving cycles of the cycle's count): the worst cylinder against the mean of its siblings (pure)."""
    counts = [(c, i) for i in range(1, MAX_CYLINDERS + 1) if (c := features.get(f"misfire_c{i}")) is not None]
    if not counts:
        return {}
    ordered = sorted(counts)
    worst, cylinder = ordered[-1]
    others = [c for c, _ in ordered[:-1]] or [0.0]
    minutes = max(features.get("drive_min") or 0.0, 1.0)
    return {
        "misfire_worst_per_h": 60.0 * worst / minutes,
        "misfire_others_per_h": 60.0 * sorted(others)[len(others) // 2] / minutes,
        "misfire_worst": worst,
        "misfire_others_mean": sum(others) / len(others),
        "misfire_worst_cyl": float(cylinder),
    }


def summarise_trips(trips: Sequence[Mapping[Any, Any]]) -> Features:
    """Turn one vehicle-day's trips into day features (pure): medians over the trips that measured each.

    - `warmup_heat_per_k`: heat (full-load revolutions) the engine burnt per kelvin its coolant rose from
      50 to 80 °C, on trips that started below 50 °C and got there driving (a warm-up mostly at idle, as
      northern drivers warm their cars in winter, loses its heat to the block, not the radiator: left out);
      `warmup_air_c` the air of those trips.
    - `charge_v_trip`: the regulated voltage above 1,500 rpm, `charge_air_trip` the air of the same minutes;
      `charge_v_early`: the upper quartile of the voltage off idle in the first five minutes after the start,
      when any alternator recharges what the crank took (a smart one too, which lets the voltage fall at
      cruise with a full battery and jumps to 15 V when decelerating).
    - `warm_demand`: the mean heat the radiator had to reject per kelvin of coolant over air while warm
      (>= 80 °C), weighted by warm samples: what moves a healthy thermostat within its band.
    - `coolant_warm_light`, `warm_demand_light`: the warm coolant and its demand of the day's coolest trip
      that was warm for `WARM_TRIP_MIN_S` and not heavy (mean load up to `HEAVY_TRIP_LOAD_PCT`): a trailer or a
      loaded climb heats a healthy engine to 110 °C on that trip; a weak radiator heats every trip.
    - `o2_ratio_lit`: rear / front O2 swing (standard deviations within each trip, pooled over the day's
      trips) with the catalyst lit (`LIT`); for a car whose upstream sensor is wideband or absent, the rear
      swing as a share of a textbook narrowband front swing; `o2_lit_samples` of them.
    - `misfire_c1..8`: per cylinder, the sum over the day's driving cycles of the cycle's Mode 06 count.
    """
    warmups = [(heat, _num(t["air_c"])) for t in trips if (heat := _warmup_heat_per_k(t)) is not None]
    charging = [(v, _num(t["air_high_rpm"])) for t in trips if (v := _num(t["volts_high_rpm"])) is not None]
    warm = [(n, _num(t["warm_demand"])) for t in trips if (n := _num(t["warm_samples"]) or 0.0) > 0]
    warm_n = sum(n for n, d in warm if d is not None)
    light = [(c, _num(t["warm_demand"])) for t in trips
             if (_num(t.get("warm_seconds")) or 0.0) >= WARM_TRIP_MIN_S and (c := _num(t["warm_c"])) is not None
             and (_num(t.get("mean_load")) or 0.0) <= HEAVY_TRIP_LOAD_PCT]  # fmt: skip
    coolest = min(light, key=lambda trip: trip[0], default=None)
    return {
        "trips": float(len(trips)),
        "revs": sum(_num(t["revs"]) or 0.0 for t in trips) if trips else None,
        "warmup_trips": float(len(warmups)),
        "warmup_heat_per_k": _median([h for h, _ in warmups]),
        "warmup_air_c": _median([a for _, a in warmups if a is not None]),
        "charge_v_trip": _median([v for v, _ in charging]),
        "charge_air_trip": _median([a for _, a in charging if a is not None]),
        "charge_v_early": _median([v for t in trips if (v := _num(t.get("volts_early"))) is not None]),
        "warm_demand": sum(n * d for n, d in warm if d is not None) / warm_n if warm_n else None,
        "coolant_warm_light": None if coolest is None else coolest[0],
        "warm_demand_light": None if coolest is None else coolest[1],
        **_lit_o2(trips),
        **_cycle_counts(trips),
    }


HEAVY_TRIP_LOAD_PCT = 52.0  # a trip whose mean calculated load is above this towed or climbed a mountain
WARM_TRIP_MIN_S = 300  # a trip warm for less than this says little about where the thermostat holds it


def _cycle_counts(trips: Sequence[Mapping[Any, Any]]) -> Features:
    out: Features = {}
    for i in range(1, MAX_CYLINDERS + 1):
        counts = [c for t in trips if (c := _num(t.get(f"misfire_c{i}"))) is not None]
        if counts:
            out[f"misfire_c{i}"] = sum(counts)
    if out:
        out["misfire_cycles"] = float(sum(1 for t in trips if _num(t.get("misfire_c1")) is not None))
    return out


NARROWBAND_FRONT_SD_V = 0.265  # a narrowband upstream sensor switching 0.1-0.85 V: its swing's standard deviation


def _lit_o2(trips: Sequence[Mapping[Any, Any]]) -> Features:
    """The day's rear/front O2 swing ratio over lit-catalyst samples, from per-trip sums (pooled within-trip
    variance: a trip's mean voltage does not count as swing). Without a narrowband front sensor on every lit
    sample, the rear swing over a textbook front swing."""
    n = front = rear = 0.0
    narrowband = True
    for trip in trips:
        count = _num(trip["lit_n"]) or 0.0
        if count < 2:
            continue
        n += count
        narrowband = narrowband and (_num(trip.get("lit_front_n")) or 0.0) == count
        front += (_num(trip["front_sq"]) or 0.0) - (_num(trip["front_sum"]) or 0.0) ** 2 / count
        rear += (_num(trip["rear_sq"]) or 0.0) - (_num(trip["rear_sum"]) or 0.0) ** 2 / count
    if not n:
        return {"o2_ratio_lit": None, "o2_lit_samples": 0.0}
    if narrowband and front > 0:
        return {"o2_ratio_lit": math.sqrt(max(rear, 0.0) / front), "o2_lit_samples": n, "o2_front": 1.0}
    return {"o2_ratio_lit": math.sqrt(max(rear, 0.0) / n) / NARROWBAND_FRONT_SD_V, "o2_lit_samples": n, "o2_front": 0.0}


IDLE_WARMUP_SHARE = 0.5  # a warm-up from 50 to 80 °C that stood still longer than this share is not a drive's
UNFINISHED_MIN_AIR_C = -5.0  # below this, a healthy engine on a short slow drive may not reach 80 °C either


def _warmup_heat_per_k(trip: Mapping[Any, Any]) -> float | None:
    """Heat per kelvin from 50 to 80 °C driving; for a drive that stayed `UNFINISHED_WARMUP_S` past 50 °C
    without reaching 80 °C in air above `UNFINISHED_MIN_AIR_C`, the heat it burnt after 50 °C (a lower bound:
    it needed more)."""
    span = WARM_TO_C - WARM_FROM_C
    heat = _difference(trip["heat_at_to"], trip["heat_at_from"])
    if heat is not None:
        seconds = _difference(trip.get("epoch_at_to"), trip.get("epoch_at_from"))
        idle = _num(trip.get("idle_s_warming")) or 0.0
        if seconds is not None and seconds > 0 and idle > IDLE_WARMUP_SHARE * seconds:
            return None
        return heat / span if heat > 0 else None
    after = _num(trip["seconds_after_from"])
    air = _num(trip["air_c"])
    if after is not None and after >= UNFINISHED_WARMUP_S and (air is None or air >= UNFINISHED_MIN_AIR_C):
        burnt = _difference(trip["heat_total"], trip["heat_at_from"])
        return burnt / span if burnt is not None and burnt > 0 else None
    return None


def _difference(to: object, since: object) -> float | None:
    a, b = _num(to), _num(since)
    return None if a is None or b is None else a - b


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def judge(features: Features) -> Quality:
    """Tell garbage (impossible or frozen readings) and sparse days from days worth scoring (pure)."""
    samples = features.get("samples") or 0.0
    driving = features.get("driving_samples") or 0.0
    if samples and (features.get("impossible") or 0.0) / samples > 0.05:
        return Quality.GARBAGE
    if driving >= 20 and (features.get("rpm_sd") == 0.0 or (features.get("coolant_sd") == 0.0 and driving > 200)):
        return Quality.GARBAGE
    if (features.get("drive_min") or 0.0) < 3 and features.get("rest_v") is None:
        return Quality.SPARSE
    return Quality.OK


def _num(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return float(str(value))
