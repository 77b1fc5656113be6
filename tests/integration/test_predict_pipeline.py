"""Prediction against a real TimescaleDB: features from raw samples, replay in data time, alerts, training.

A seeded fleet with injected faults is loaded once (COPY, bypassing MQTT: ingest has its own tests and
the evaluation test below goes through it); each test works on its own copy of that database.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import psycopg
import pytest
from sqlalchemy import create_engine, func, select, text

from pitcall.local_services import Broker, PostgresCluster
from pitcall.settings import ToolSettings
from predict import alerts
from predict.catalog import CATALOG, FailureMode
from predict.evaluation import RaisedAlert
from predict.features import Quality, load_days
from predict.model import Model, shipped
from predict.service import replay, score_latest
from simulators.bulk_load import bulk_load, register
from simulators.history import Cadence
from simulators.scenario import FleetPlan, SimCar, build_fleet, ground_truth
from store.db import make_engine, sqlalchemy_url
from store.tables import alerts as alerts_table
from store.tables import vehicle_day_features

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the simulated stores' time zone
PLAN = FleetPlan(seed=11, vehicles=14, start=date(2026, 3, 2), days=75, fault_share=0.5, prefix="pp")
LAST = PLAN.start + timedelta(days=PLAN.days - 1)
_copies = itertools.count()


@dataclass(frozen=True)
class LoadedFleet:
    template: str
    pg: PostgresCluster
    cars: list[SimCar]

    def copy(self) -> str:
        name = f"pp_{next(_copies)}"
        engine = create_engine(sqlalchemy_url(self.pg.url()), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {self.template}"))
        engine.dispose()
        return self.pg.url(name)


@pytest.fixture(scope="module")
def loaded(pg: PostgresCluster, template_db: str) -> Iterator[LoadedFleet]:
    engine = create_engine(sqlalchemy_url(pg.url()), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE pp_fleet TEMPLATE {template_db}"))
    cars, samples = bulk_load(pg.url("pp_fleet"), PLAN, cadence=Cadence())
    assert samples > 100_000
    yield LoadedFleet("pp_fleet", pg, cars)
    with engine.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS pp_fleet WITH (FORCE)"))
    engine.dispose()


def _vehicle_ids(url: str) -> dict[str, int]:
    with make_engine(url).connect() as conn:
        return {r.device_id: r.vehicle_id for r in conn.execute(text("SELECT device_id, vehicle_id FROM devices"))}


def test_daily_features_are_the_aggregates_of_the_raw_samples(loaded: LoadedFleet) -> None:
    url = loaded.copy()
    day = PLAN.start + timedelta(days=20)
    with make_engine(url).connect() as conn:
        days = {d.vehicle_id: d for d in load_days(conn, first=day, last=day)}
        rows = conn.execute(
            text("SELECT vehicle_id, ts, pids FROM telemetry WHERE (ts AT TIME ZONE 'Asia/Shanghai')::date = :d"),
            {"d": day},
        ).all()
    checked = 0
    for vehicle_id, vday in days.items():
        pids = [r.pids for r in rows if r.vehicle_id == vehicle_id]
        parked = [p["ELM_VOLTAGE"] for p in pids if "RPM" not in p and "ELM_VOLTAGE" in p]
        driving = [r for r in rows if r.vehicle_id == vehicle_id and (r.pids.get("RPM") or 0) > 400]
        if not driving or not parked:
            continue
        assert vday.features["crank_v"] == pytest.approx(min(parked))
        assert vday.features["rest_v"] == pytest.approx(statistics.median(parked))
        assert vday.features["coolant_max"] == max(r.pids["COOLANT_TEMP"] for r in driving)
        assert vday.features["drive_min"] == len({r.ts.replace(second=0, microsecond=0) for r in driving})
        assert vday.quality is Quality.OK
        checked += 1
    assert checked >= 5


Trip = list[tuple[float, dict[str, float]]]  # (seconds since the previous sample of the trip, pids)


def _trips_from_raw(samples: list[tuple[datetime, dict[str, float]]]) -> list[tuple[datetime, Trip]]:
    """Split a car's driving samples into trips (no gap over 5 minutes): (start, samples)."""
    trips: list[tuple[datetime, Trip]] = []
    last: datetime | None = None
    for ts, pids in samples:
        gap = None if last is None else (ts - last).total_seconds()
        if gap is None or gap > 300:
            trips.append((ts, [(0.0, pids)]))
        else:
            trips[-1][1].append((gap, pids))
        last = ts
    return trips


def _heat_per_k_from_raw(trip: Trip) -> float | None:
    """Full-load revolutions (rpm/60 x load/100 x seconds) between the coolant's first upward crossings of 50
    and 80 °C (interpolated within the crossing interval), per kelvin, unless the car stood still for more
    than half of that time; a trip that stayed 10 minutes past 50 °C without reaching 80 °C, in air of -5 °C
    or more, gives the heat it burnt after 50 °C."""
    heat, seconds, idle, prev = 0.0, 0.0, 0.0, None
    at: dict[float, tuple[float, float]] = {}
    for dt, pids in trip:
        step = pids["RPM"] / 60.0 * pids["ENGINE_LOAD"] / 100.0 * dt
        heat, seconds = heat + step, seconds + dt
        coolant = pids["COOLANT_TEMP"]
        if prev is not None and 50.0 <= prev < 80.0 and pids.get("SPEED", 0) < 3:
            idle += dt
        for level in (50.0, 80.0):
            if level not in at and prev is not None and prev < level <= coolant and dt > 0:
                share = (coolant - level) / (coolant - prev)
                at[level] = (heat - step * share, seconds - dt * share)
        prev = coolant
    if 50.0 not in at:
        return None
    if 80.0 in at:
        warming = at[80.0][1] - at[50.0][1]
        return None if idle > 0.5 * warming else (at[80.0][0] - at[50.0][0]) / 30.0
    ambient = [p["AMBIANT_AIR_TEMP"] for _, p in trip if p.get("AMBIANT_AIR_TEMP") is not None]
    air = statistics.fmean(ambient) if ambient else min(p["INTAKE_TEMP"] for _, p in trip)
    return (heat - at[50.0][0]) / 30.0 if seconds - at[50.0][1] >= 600 and air >= -5.0 else None


def test_trip_features_are_the_physics_of_the_raw_samples(loaded: LoadedFleet) -> None:
    url = loaded.copy()
    first = PLAN.start + timedelta(days=20)
    last = first + timedelta(days=4)
    with make_engine(url).connect() as conn:
        days = {(d.vehicle_id, d.day): d for d in load_days(conn, first=first, last=last)}
        rows = conn.execute(
            text(
                "SELECT vehicle_id, ts, pids FROM telemetry WHERE ts >= :a AND ts < :b"
                " AND (pids->>'RPM')::float8 > 400 ORDER BY vehicle_id, ts"
            ),
            {"a": first - timedelta(days=1), "b": last + timedelta(days=2)},
        ).all()
    by_vehicle: dict[int, list[tuple[datetime, dict[str, float]]]] = {}
    for r in rows:
        by_vehicle.setdefault(r.vehicle_id, []).append((r.ts, r.pids))
    warmups = volts_checked = o2_checked = 0
    for vehicle_id, samples in by_vehicle.items():
        per_day: dict[date, list[Trip]] = {}
        for began, trip in _trips_from_raw(samples):
            per_day.setdefault(began.astimezone(SHANGHAI).date(), []).append(trip)
        for day, trips in per_day.items():
            if (vday := days.get((vehicle_id, day))) is None:
                continue
            assert vday.features["trips"] == len(trips)
            heats = [h for t in trips if (h := _heat_per_k_from_raw(t)) is not None]
            if heats:
                assert vday.features["warmup_heat_per_k"] == pytest.approx(statistics.median(heats), rel=1e-6)
                warmups += 1
            else:
                assert vday.features["warmup_heat_per_k"] is None
            volts = [
                statistics.median(high)
                for t in trips
                if (high := [p["CONTROL_MODULE_VOLTAGE"] for _, p in t if p["RPM"] > 1500])
            ]
            if volts:
                assert vday.features["charge_v_trip"] == pytest.approx(statistics.median(volts))
                volts_checked += 1
            ratio = _lit_o2_ratio_from_raw(trips)
            if ratio is None:
                assert vday.features["o2_ratio_lit"] is None
            else:
                assert vday.features["o2_ratio_lit"] == pytest.approx(ratio, rel=1e-6)
                o2_checked += 1
    assert warmups >= 10 and volts_checked >= 20 and o2_checked >= 20


def _lit_o2_ratio_from_raw(trips: list[Trip]) -> float | None:
    """Rear/front O2 standard deviation, pooled within trips of ten minutes or more, over samples in the
    second half of the trip and 5 minutes into it, warm."""
    front_ss = rear_ss = 0.0
    for trip in trips:
        elapsed = list(itertools.accumulate(dt for dt, _ in trip))
        if elapsed[-1] < 600:
            continue
        lit = [(p["O2_B1S1"], p["O2_B1S2"]) for t, (_, p) in zip(elapsed, trip, strict=True)
               if t >= max(300, elapsed[-1] / 2) and p["COOLANT_TEMP"] >= 75
               and p.get("O2_B1S1") is not None and p.get("O2_B1S2") is not None]  # fmt: skip
        if len(lit) >= 2:
            front_ss += len(lit) * statistics.pvariance([f for f, _ in lit])
            rear_ss += len(lit) * statistics.pvariance([r for _, r in lit])
    return math.sqrt(rear_ss / front_ss) if front_ss > 0 else None


def test_features_are_recomputed_and_kept_without_scoring(loaded: LoadedFleet) -> None:
    url = loaded.copy()
    first, last = PLAN.start + timedelta(days=10), PLAN.start + timedelta(days=44)  # two chunks of 30 days
    result = subprocess.run(
        [sys.executable, "-m", "pitcall", "predict", "features", "--from", str(first), "--to", str(last)],
        env={**os.environ, "PITCALL_DATABASE_URL": url}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with make_engine(url).connect() as conn:
        kept = conn.execute(select(vehicle_day_features.c.day, vehicle_day_features.c.features)).all()
        alerts_written = conn.scalar(select(func.count()).select_from(alerts_table))
        expected = len(load_days(conn, first=first, last=last))
    assert len(kept) == expected and {d for d, _ in kept} == {first + timedelta(days=n) for n in range(35)}
    assert all("o2_ratio_lit" in f for _, f in kept) and alerts_written == 0


def test_a_failed_rpm_read_is_not_a_parked_sample(loaded: LoadedFleet) -> None:
    """The edge agent sends "RPM": null when one read fails while driving; that sample's charging voltage
    must not be taken for a resting one (parked = no RPM key at all)."""
    url = loaded.copy()
    day = PLAN.start + timedelta(days=25)
    with make_engine(url).begin() as conn:
        vehicle_id, device_id = conn.execute(text("SELECT vehicle_id, device_id FROM devices LIMIT 1")).one()
        before = {d.vehicle_id: d for d in load_days(conn, first=day, last=day)}[vehicle_id]
        assert before.features["rest_v"] is not None
        noon = datetime.combine(day, time(12), SHANGHAI)
        for n in range(40):  # more than all the day's parked samples: the median would move
            conn.execute(
                text("INSERT INTO telemetry (ts, vehicle_id, device_id, seq, pids) VALUES (:ts, :v, :d, :s, :p)"),
                {"ts": noon + timedelta(seconds=n, microseconds=137), "v": vehicle_id, "d": device_id, "s": 10**9 + n,
                 "p": json.dumps({"RPM": None, "ELM_VOLTAGE": 14.4, "SPEED": 50.0})},
            )  # fmt: skip
        after = {d.vehicle_id: d for d in load_days(conn, first=day, last=day)}[vehicle_id]
    assert after.features["rest_v"] == before.features["rest_v"]
    assert after.features["crank_v"] == before.features["crank_v"]
    assert after.features["samples"] == (before.features["samples"] or 0) + 40


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])  # UTC+14 and UTC-11
def test_local_days_and_trips_hold_at_the_ends_of_the_time_zones(loaded: LoadedFleet, zone: str) -> None:
    """The features read a window of UTC samples computed from the local days: every sample of a local day
    counts, none of the next or previous one, and each trip falls on the local day it started."""
    url = loaded.copy()
    local = ZoneInfo(zone)
    first = PLAN.start + timedelta(days=30)
    last = first + timedelta(days=1)
    with make_engine(url).begin() as conn:
        conn.execute(text("UPDATE stores SET timezone = :zone"), {"zone": zone})
        days = {(d.vehicle_id, d.day): d for d in load_days(conn, first=first, last=last)}
        rows = conn.execute(
            text("SELECT vehicle_id, ts, pids FROM telemetry WHERE ts >= :a AND ts < :b ORDER BY vehicle_id, ts"),
            {"a": first - timedelta(days=2), "b": last + timedelta(days=3)},
        ).all()
    samples: dict[tuple[int, date], int] = {}
    driving: dict[int, list[tuple[datetime, dict[str, float]]]] = {}
    for r in rows:
        key = (r.vehicle_id, r.ts.astimezone(local).date())
        samples[key] = samples.get(key, 0) + 1
        if (r.pids.get("RPM") or 0) > 400:
            driving.setdefault(r.vehicle_id, []).append((r.ts, r.pids))
    trips: dict[tuple[int, date], int] = {}
    for vehicle_id, series in driving.items():
        for began, _trip in _trips_from_raw(series):
            key = (vehicle_id, began.astimezone(local).date())
            trips[key] = trips.get(key, 0) + 1
    expected = {key for key in samples if first <= key[1] <= last}
    assert set(days) == expected and len(expected) >= 20
    for key, vday in days.items():
        assert vday.features["samples"] == samples[key]
        assert vday.features["trips"] == trips.get(key, 0)


def test_replay_alerts_injected_faults_early_and_leaves_healthy_cars_alone(loaded: LoadedFleet) -> None:
    url = loaded.copy()
    ids = _vehicle_ids(url)
    stats = replay(make_engine(url), first=PLAN.start, last=LAST, model=shipped())
    with make_engine(url).connect() as conn:
        raised = conn.execute(select(alerts_table)).all()
    faults = {(ids[c.device_id], f.mode): f for c in loaded.cars for f in c.faults}
    assert faults and stats.opened == len(raised)
    early = [
        a
        for a in raised
        if (f := faults.get((a.vehicle_id, FailureMode(a.mode))))
        and a.first_observed_at <= f.failure - timedelta(days=1)
    ]
    false = [a for a in raised if (a.vehicle_id, FailureMode(a.mode)) not in faults]
    assert len(early) >= 0.6 * len(faults), f"caught {len(early)} of {len(faults)} faults before failure"
    assert len(false) <= 1, f"false alerts: {[(a.vehicle_id, a.mode, a.first_observed_at) for a in false]}"
    start = datetime.combine(PLAN.start, datetime.min.time(), UTC) - timedelta(days=1)
    for alert in raised:
        mode = FailureMode(alert.mode)
        assert alert.operation == CATALOG[mode].operation.op_code and alert.parts
        assert start <= alert.first_observed_at <= alert.observed_at <= start + timedelta(days=PLAN.days + 2)
        assert alert.evidence["series"] and alert.evidence["z"] >= alert.evidence["threshold_z"]
        assert alert.model_version == shipped().version and 0 < alert.confidence <= 1


def test_replay_twice_updates_the_same_alerts(loaded: LoadedFleet) -> None:
    url = loaded.copy()
    db = make_engine(url)
    first = replay(db, first=PLAN.start, last=LAST, model=shipped())
    second = replay(db, first=PLAN.start, last=LAST, model=shipped())
    with db.connect() as conn:
        count = conn.scalar(select(func.count()).select_from(alerts_table))
    assert first.opened == count and second.opened == 0 and second.updated >= first.opened


def test_garbage_sparse_and_jumpy_vehicles_raise_no_alert(loaded: LoadedFleet) -> None:
    url = loaded.copy()
    odd = build_fleet(FleetPlan(seed=99, vehicles=3, start=PLAN.start, days=PLAN.days, fault_share=0, prefix="odd"))
    ids = register(url, odd, store_code="ODD-1", store_name="odd cars")
    frozen, single, jumpy = (ids[c.device_id] for c in odd)
    rows = []
    for offset in range(40):  # a dongle stuck on one frame, then impossible readings
        day = datetime.combine(PLAN.start + timedelta(days=offset), datetime.min.time(), UTC) + timedelta(hours=2)
        for second in range(0, 1800, 30):
            pids = {"RPM": 2000.0, "COOLANT_TEMP": 90.0, "ELM_VOLTAGE": 14.1, "CONTROL_MODULE_VOLTAGE": 14.2}
            if offset >= 20:
                pids |= {"COOLANT_TEMP": 250.0, "RPM": 30000.0}
            rows.append((day + timedelta(seconds=second), frozen, odd[0].device_id, pids))
    day = datetime.combine(LAST, datetime.min.time(), UTC)
    rows += [(day + timedelta(seconds=s), single, odd[1].device_id, {"RPM": 800.0 + s, "COOLANT_TEMP": 80.0})
             for s in range(0, 600, 30)]  # fmt: skip
    for offset in (0, 1, 2, 30, 31, 60):  # weeks-long gaps, nothing but a few samples
        day = datetime.combine(PLAN.start + timedelta(days=offset), datetime.min.time(), UTC)
        rows += [(day + timedelta(seconds=s), jumpy, odd[2].device_id, {"RPM": 900.0 + s, "ELM_VOLTAGE": 12.5})
                 for s in range(0, 300, 60)]  # fmt: skip
    with (
        psycopg.connect(url) as raw,
        raw.cursor().copy("COPY telemetry (ts, vehicle_id, device_id, seq, pids) FROM STDIN") as copy,
    ):
        for seq, (ts, vehicle_id, device_id, pids) in enumerate(rows):
            copy.write_row((ts, vehicle_id, device_id, seq, orjson.dumps(pids).decode()))
    stats = replay(make_engine(url), first=PLAN.start, last=LAST, model=shipped())
    with make_engine(url).connect() as conn:
        flagged = set(
            conn.scalars(
                select(alerts_table.c.vehicle_id).where(alerts_table.c.vehicle_id.in_([frozen, single, jumpy]))
            )
        )
        garbage_days = conn.scalar(
            select(func.count())
            .select_from(vehicle_day_features)
            .where(vehicle_day_features.c.vehicle_id == frozen, vehicle_day_features.c.quality == "garbage")
        )
    assert not flagged
    assert garbage_days == 40 and frozen in stats.garbage_vehicles


def test_the_live_service_scores_the_newest_days(loaded: LoadedFleet) -> None:
    url = loaded.copy()
    db = make_engine(url)
    replay(db, first=PLAN.start, last=LAST - timedelta(days=2), model=shipped())
    stats = score_latest(db, today=LAST, model=shipped())
    assert stats.vehicle_days >= PLAN.vehicles  # two days of the fleet
    with db.connect() as conn:
        kept = conn.scalar(select(func.max(vehicle_day_features.c.day)))
    assert kept == LAST


def test_the_live_service_recomputes_yesterday_only_for_late_data(loaded: LoadedFleet) -> None:
    """Every cycle computes today; yesterday again only for the vehicles whose samples or DTC reports for
    it changed since (late data after an offline gap): the steady-state cycle is one day's work."""
    from predict.service import LiveScorer

    url = loaded.copy()
    db = make_engine(url)
    replay(db, first=PLAN.start, last=LAST - timedelta(days=2), model=shipped())
    scorer = LiveScorer(shipped())
    with db.connect() as conn:
        today_cars = conn.scalar(text("SELECT count(DISTINCT vehicle_id) FROM telemetry WHERE ts >= :t"),
                                 {"t": datetime.combine(LAST, time.min, SHANGHAI)})  # fmt: skip
        vehicle_id, device_id = conn.execute(text("SELECT vehicle_id, device_id FROM devices LIMIT 1")).one()
    first = scorer.cycle(db, today=LAST)
    assert first.vehicle_days > today_cars and first.days == 2  # both days, every vehicle
    quiet = scorer.cycle(db, today=LAST)
    assert (quiet.vehicle_days, quiet.days) == (today_cars, 1)  # nothing new for yesterday: today only

    def kept_samples() -> float:
        with db.connect() as conn:
            kept = vehicle_day_features.c
            row = conn.execute(select(kept.features).where(
                (kept.vehicle_id == vehicle_id) & (kept.day == LAST - timedelta(days=1)))).scalar_one()  # fmt: skip
        return float(row["samples"])

    before = kept_samples()
    late = datetime.combine(LAST - timedelta(days=1), time(3), SHANGHAI)  # parked at 3 a.m., delivered late
    with db.begin() as conn:
        conn.execute(
            text("INSERT INTO telemetry (ts, vehicle_id, device_id, seq, pids) VALUES (:ts, :v, :d, :s, :p)"),
            {"ts": late, "v": vehicle_id, "d": device_id, "s": 10**9, "p": json.dumps({"ELM_VOLTAGE": 12.5})},
        )
    after_gap = scorer.cycle(db, today=LAST)
    assert (after_gap.vehicle_days, after_gap.days) == (today_cars + 1, 2)  # that vehicle's yesterday, rescored
    assert kept_samples() == before + 1
    assert scorer.cycle(db, today=LAST).vehicle_days == today_cars


def test_train_from_ground_truth_writes_a_versioned_model(loaded: LoadedFleet, tmp_path: Path) -> None:
    url = loaded.copy()
    replay(make_engine(url), first=PLAN.start, last=LAST, model=shipped())
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps(ground_truth(loaded.cars)))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pitcall",
            "predict",
            "train",
            "--from",
            str(PLAN.start),
            "--to",
            str(LAST),
            "--truth",
            str(truth),
            "--fleet",  # the same fleet again, as a second database would be: its ids kept apart
            f"{url}={truth}",
            "--version",
            "test-model",
            "--out",
            str(tmp_path),
        ],
        env={**os.environ, "PITCALL_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    model = Model.load(tmp_path / "test-model.json")
    assert model.version == "test-model" and model.trained_on["from"] == str(PLAN.start)
    faults = sum(len(c.faults) for c in loaded.cars)
    assert (model.trained_on["vehicles"], model.trained_on["faults"]) == (2 * PLAN.vehicles, 2 * faults)
    assert model.trained_on["databases"] == [url.rpartition("/")[2]] * 2
    assert set(model.params) == set(FailureMode) and all(p.threshold >= 3.0 for p in model.params.values())
    assert model.metrics["battery"]


def test_alert_outcomes_become_training_labels(loaded: LoadedFleet) -> None:
    url = loaded.copy()
    db = make_engine(url)
    replay(db, first=PLAN.start, last=LAST, model=shipped())
    with db.begin() as conn:
        first = conn.execute(select(alerts_table.c.id)).scalars().first()
        assert first is not None
        at = datetime.combine(LAST, datetime.min.time(), UTC)
        alerts.transition(
            conn, first, alerts.AlertState.RESOLVED, actor="tech-1", at=at, outcome=alerts.Outcome.CONFIRMED
        )
    with db.connect() as conn:
        labels = alerts.labels(conn)
    assert [(label.alert_id, label.outcome) for label in labels] == [(first, alerts.LabelOutcome.CONFIRMED)]


def test_eval_runs_a_fleet_through_broker_ingest_and_replay(
    pg: PostgresCluster, template_db: str, broker: Broker
) -> None:
    from pitcall.evaluate import markdown, raised_alerts, run_eval

    settings = ToolSettings(database_url=pg.url("pp_eval_base"), mqtt_port=broker.port)
    plan = FleetPlan(seed=4, vehicles=8, start=datetime.now(UTC).date() - timedelta(days=32), days=30, prefix="ev")
    result = run_eval(settings, plan, model=shipped(), cadence=Cadence(sample_every_s=60), workers=1)
    assert result.history.samples > 20_000
    url = pg.url("pp_eval_base_eval")
    with make_engine(url).connect() as conn:
        stored = conn.scalar(text("SELECT count(*) FROM telemetry"))
        dead = conn.scalar(text("SELECT count(*) FROM dead_letters"))
        raised = raised_alerts(conn)
        alert_rows = conn.scalar(text("SELECT count(*) FROM alerts"))
        told = conn.execute(text("SELECT (payload->>'days_to_failure')::float FROM outbox "
                                 "WHERE event_type = 'alert.raised'")).scalars().all()  # fmt: skip
    assert stored == result.history.samples
    assert dead == result.history.malformed
    assert len(raised) == alert_rows and result.pitcall[None].alerts == alert_rows
    assert sorted(a.days_to_failure or -1.0 for a in raised) == sorted(t or -1.0 for t in told)
    faults = sum(1 for c in build_fleet(plan) for _ in c.faults)
    assert result.pitcall[None].faults == result.reactive[None].faults == faults
    for mode, ceiling in result.ceiling.items():  # no method catches a failure before its first reading
        assert ceiling.false_alerts == 0 and ceiling.caught >= result.pitcall[mode].caught
        assert result.oracle[mode].caught <= ceiling.caught
    assert result.ceiling[None].caught > 0
    table = markdown(result)
    assert "| all modes | pitcall |" in table and "| battery | reactive DTC |" in table
    assert "| all modes | oracle: first reading |" in table


def test_the_in_memory_backtest_raises_what_the_database_replay_raises(loaded: LoadedFleet, tmp_path: Path) -> None:
    from pitcall.evaluate import raised_alerts, workshop
    from predict.backtest import backtest
    from predict.evaluation import Fault, score_alerts
    from predict.service import cohort_of_vehicles, store_of_vehicles, stored_days

    url = loaded.copy()
    db = make_engine(url)
    ids = _vehicle_ids(url)
    faults = [Fault(ids[c.device_id], f.mode, f.onset, f.failure) for c in loaded.cars for f in c.faults]
    repaired = {(ids[c.device_id], f.mode): f.repaired or f.failure for c in loaded.cars for f in c.faults}
    replay(db, first=PLAN.start, last=LAST, model=shipped(),
           after_day=lambda conn, day: workshop(conn, day, faults, repaired))  # fmt: skip
    with db.connect() as conn:
        in_database = raised_alerts(conn)
        days = stored_days(conn, first=PLAN.start, last=LAST)
        store_of, cohort_of = store_of_vehicles(conn), cohort_of_vehicles(conn)
        resolved = conn.scalar(text("SELECT count(*) FROM alerts WHERE state = 'resolved'"))
    assert in_database and resolved, "the workshop acted on nothing: the comparison would be empty"
    run = backtest(days, faults, repaired, model=shipped(), store_of=store_of, cohort_of=cohort_of,
                   first=PLAN.start, last=LAST)  # fmt: skip

    def key(a: RaisedAlert) -> tuple[int, str, datetime]:
        return a.vehicle_id, a.mode.value, a.at

    assert sorted(run.raised, key=key) == sorted(in_database, key=key)

    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps(ground_truth(loaded.cars)))
    result = subprocess.run(
        [sys.executable, "-m", "pitcall", "predict", "backtest", "--from", str(PLAN.start), "--to", str(LAST),
         "--truth", str(truth), "--misses"],
        env={**os.environ, "PITCALL_DATABASE_URL": url}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    all_modes = re.search(r"all modes\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│", result.stdout)
    scores = score_alerts(run.raised, faults, vehicles=len(store_of), days=PLAN.days)[None]
    assert all_modes is not None, result.stdout
    assert tuple(map(int, all_modes.groups())) == (len(run.raised), scores.faults, scores.caught)
    oracle = re.search(r"all modes.*│\s*(\d+) / (\d+)\s*│", result.stdout)  # caught: first reading / severity 0.2
    assert oracle is not None, result.stdout
    assert scores.faults >= int(oracle[1]) >= max(scores.caught, int(oracle[2]))


def test_a_candidate_is_promoted_only_if_the_stress_fleet_allows(loaded: LoadedFleet, tmp_path: Path) -> None:
    """`pitcall predict promote` backtests the live model and the candidate on a fleet's kept features: the
    same model passes and is written with its table and priors; one that misses every failure is refused
    (exit 2) and nothing is written. (The loaded fleet stands in for a stress-profile one.)"""
    url = loaded.copy()
    replay(make_engine(url), first=PLAN.start, last=LAST, model=shipped())
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps(ground_truth(loaded.cars)))
    live = shipped()
    blind = replace(live, version="test-blind", params={m: replace(p, threshold=1e6) for m, p in live.params.items()})
    same = replace(live, version="test-same")
    promoted = tmp_path / "promoted"

    def promote(candidate: Model) -> subprocess.CompletedProcess[str]:
        path = candidate.save(tmp_path / f"{candidate.version}.json")
        return subprocess.run(
            [sys.executable, "-m", "pitcall", "predict", "promote", str(path), "--stress", f"{url}={truth}",
             "--out", str(promoted)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    refused = promote(blind)
    assert refused.returncode == 2, refused.stderr
    assert "refused" in refused.stderr and "recall 0.00" in refused.stderr
    assert not (promoted / "test-blind.json").exists()
    accepted = promote(same)
    assert accepted.returncode == 0, accepted.stderr
    model = Model.load(promoted / "test-same.json")
    table = model.metrics["stress"]
    assert isinstance(table, dict) and table["replaced"] == live.version and table["table"]["all"]["faults"] > 0
    priors = {m: p.prior_precision for m, p in model.params.items()}
    assert all(0.0 < p < 1.0 for p in priors.values()) and priors != {m: 0.5 for m in priors}
