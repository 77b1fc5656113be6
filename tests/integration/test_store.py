"""The store on real TimescaleDB: migrations, rollups (both editions' aggregates), retention, provisioning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, text
from typer.testing import CliRunner

from pitcall.cli import app
from store import fleet as registry
from store import migrate
from store.db import make_engine
from store.maintenance import apply_retention, refresh_rollups
from store.secrets import verify_secret
from store.tables import metadata, rollup_invalidations, telemetry
from store.timescale import Edition, StorePolicy
from tests.helpers import rows, scalar

HOUR = datetime(2026, 11, 20, 8, tzinfo=UTC)


def _vehicle(db_url: str, vin: str = "LSVAU2180N2183294") -> int:
    with make_engine(db_url).begin() as conn:
        store_id = registry.ensure_store(conn, group_name="G", store_code="S1", store_name="S1")
        return registry.add_vehicle(conn, store_id=store_id, vin=vin, make="VW", model="Lavida", year=2022)


def test_migrations_go_down_and_up_again(db_url: str) -> None:
    migrate.downgrade(db_url, "base")
    assert scalar(db_url, "SELECT count(*) FROM pg_tables WHERE tablename = 'telemetry'") == 0
    migrate.upgrade(db_url)
    migrate.upgrade(db_url)  # idempotent
    hypertables = {r[0] for r in rows(db_url, "SELECT hypertable_name FROM timescaledb_information.hypertables")}
    assert hypertables == {"telemetry", "dtc_events", "telemetry_hourly_rollup"}


ALERT_TABLES = {"alerts", "alert_transitions", "vehicle_day_features"}


SERVICE_TABLES = {"users", "login_failures", "api_keys", "bookings", "work_orders", "surveys", "outbox", "deliveries"}


def test_alerts_and_service_migrations_go_down_to_0001_and_up_again(db_url: str) -> None:
    tables = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    migrate.downgrade(db_url, "0001")
    remaining = {r[0] for r in rows(db_url, tables)}
    assert not remaining & (ALERT_TABLES | SERVICE_TABLES) and "vehicles" in remaining
    assert scalar(db_url, "SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%alerts%'") == 0
    migrate.upgrade(db_url)
    assert {r[0] for r in rows(db_url, tables)} >= ALERT_TABLES | SERVICE_TABLES
    head = ScriptDirectory.from_config(migrate.alembic_config(db_url)).get_current_head()
    assert scalar(db_url, "SELECT version_num FROM alembic_version") == head
    assert scalar(db_url, "SELECT count(*) FROM service_operations") >= 7  # the seeded catalog is back


def test_migrations_match_the_tables(db_url: str) -> None:
    with make_engine(db_url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_server_default": True, "compare_type": True})
        assert compare_metadata(context, metadata) == []
    # autogenerate does not compare index predicates: one live alert per vehicle and mode
    index = scalar(db_url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_alerts_live_vehicle_mode'")
    assert "UNIQUE" in index and "'open'" in index and "'booked'" in index and "'resolved'" not in index


def test_rollup_job_matches_the_raw_samples_and_the_licensed_aggregate(db_url: str) -> None:
    vehicle_id = _vehicle(db_url)
    samples = [
        (
            HOUR + timedelta(seconds=10 * i),
            {"RPM": 800.0 + i, "COOLANT_TEMP": 80 + i % 3, "O2_B1S2": None if i % 2 else 0.7},
        )
        for i in range(360)
    ]
    samples.append((HOUR + timedelta(hours=1), {"RPM": 5000.0}))  # the next hour
    with make_engine(db_url).begin() as conn:
        conn.execute(
            insert(telemetry),
            [{"ts": ts, "vehicle_id": vehicle_id, "device_id": "d", "seq": 1, "pids": p} for ts, p in samples],
        )
        conn.execute(
            insert(rollup_invalidations),
            [
                {"vehicle_id": vehicle_id, "bucket": HOUR},
                {"vehicle_id": vehicle_id, "bucket": HOUR + timedelta(hours=1)},
            ],
        )
        # the open hour (now - 30 min) is not rolled up until it has settled
        assert refresh_rollups(conn, now=HOUR + timedelta(hours=1, minutes=30)) == 1
        assert refresh_rollups(conn, now=HOUR + timedelta(hours=3)) == 1
        assert refresh_rollups(conn, now=HOUR + timedelta(hours=3)) == 0
    hourly = {(r.pid, r.bucket): r for r in rows(db_url, "SELECT * FROM telemetry_hourly")}
    rpm = hourly[("RPM", HOUR)]
    assert (rpm.min, rpm.max, rpm.count) == (800.0, 1159.0, 360)
    assert rpm.avg == pytest.approx(979.5)
    assert hourly[("O2_B1S2", HOUR)].count == 180  # gaps are not readings
    assert hourly[("RPM", HOUR + timedelta(hours=1))].max == 5000.0
    licensed = scalar(
        db_url, "SELECT pitcall_pid_stats(pids) FROM telemetry WHERE ts < :end", end=HOUR + timedelta(hours=1)
    )
    assert licensed["RPM"] == [800.0, 1159.0, pytest.approx(sum(800.0 + i for i in range(360))), 360]
    assert licensed["COOLANT_TEMP"][3] == 360 and licensed["O2_B1S2"][3] == 180


def test_late_samples_invalidate_and_recompute_their_hour(db_url: str) -> None:
    vehicle_id = _vehicle(db_url)
    engine = make_engine(db_url)
    for seconds, rpm in ((0, 900.0), (60, 3000.0)):
        with engine.begin() as conn:
            conn.execute(
                insert(telemetry).values(
                    ts=HOUR + timedelta(seconds=seconds),
                    vehicle_id=vehicle_id,
                    device_id="d",
                    seq=1,
                    pids={"RPM": rpm},
                )
            )
            conn.execute(
                text("INSERT INTO rollup_invalidations VALUES (:v, :b) ON CONFLICT DO NOTHING"),
                {"v": vehicle_id, "b": HOUR},
            )
            refresh_rollups(conn, now=HOUR + timedelta(days=1))
    assert rows(db_url, "SELECT max, count FROM telemetry_hourly WHERE pid = 'RPM'") == [(3000.0, 2)]


def test_one_refresh_rolls_up_hours_days_apart_and_only_those_hours(db_url: str) -> None:
    vehicle_id = _vehicle(db_url)
    hours = [HOUR, HOUR + timedelta(days=9, hours=5)]  # in different chunks: the time bounds must span both
    samples = [(h + timedelta(minutes=m), 1000.0 * (n + 1) + m) for n, h in enumerate(hours) for m in (0, 59)]
    samples += [(h - timedelta(seconds=1), 1.0) for h in hours] + [(h + timedelta(hours=1), 99999.0) for h in hours]
    with make_engine(db_url).begin() as conn:
        conn.execute(insert(telemetry), [{"ts": ts, "vehicle_id": vehicle_id, "device_id": "d", "seq": 1,
                                          "pids": {"RPM": rpm}} for ts, rpm in samples])  # fmt: skip
        conn.execute(insert(rollup_invalidations), [{"vehicle_id": vehicle_id, "bucket": h} for h in hours])
        assert refresh_rollups(conn, now=hours[-1] + timedelta(days=1)) == 2
    hourly = rows(db_url, "SELECT bucket, min, max, count FROM telemetry_hourly WHERE pid = 'RPM' ORDER BY bucket")
    assert hourly == [(HOUR, 1000.0, 1059.0, 2), (hours[1], 2000.0, 2059.0, 2)]


def test_retention_drops_old_chunks_and_dead_letters(db_url: str) -> None:
    vehicle_id = _vehicle(db_url)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    with make_engine(db_url).begin() as conn:
        for age_days in (500, 1):
            conn.execute(
                insert(telemetry).values(
                    ts=now - timedelta(days=age_days),
                    vehicle_id=vehicle_id,
                    device_id="d",
                    seq=1,
                    pids={"RPM": 1},
                )
            )
        conn.execute(
            text(
                "INSERT INTO dead_letters (received_at, topic, reason, detail, payload, payload_bytes) "
                "VALUES (:old, 't', 'schema', 'x', '', 0), (:new, 't', 'schema', 'x', '', 0)"
            ),
            {"old": now - timedelta(days=100), "new": now},
        )
        dropped = apply_retention(conn, edition=Edition.APACHE, now=now, policy=StorePolicy())
    assert dropped["telemetry"] == 1 and dropped["dead_letters"] == 1
    assert scalar(db_url, "SELECT count(*) FROM telemetry") == 1
    assert scalar(db_url, "SELECT count(*) FROM dead_letters") == 1


def test_provision_cli_prints_the_secret_once_and_stores_only_its_hash(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PITCALL_DATABASE_URL", db_url)
    runner = CliRunner()
    added = runner.invoke(
        app,
        [
            "vehicles",
            "add",
            "--vin",
            "LSVAU2180N2183294",
            "--make",
            "VW",
            "--model",
            "Lavida",
            "--year",
            "2022",
            "--store",
            "SH-01",
        ],
    )
    assert added.exit_code == 0, added.output
    result = runner.invoke(app, ["devices", "provision", "dongle-00042", "--vin", "LSVAU2180N2183294"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[-1]
    stored = scalar(db_url, "SELECT secret_hash FROM devices WHERE device_id = 'dongle-00042'")
    assert secret not in stored and verify_secret(secret, stored)
    again = runner.invoke(app, ["devices", "provision", "dongle-00042", "--vin", "LSVAU2180N2183294"])
    assert again.exit_code == 1 and "exists already" in again.output
    unknown = runner.invoke(app, ["devices", "provision", "dongle-9", "--vin", "LSVAU2180N2183299"])
    assert unknown.exit_code == 1 and "no vehicle with VIN" in unknown.output
    for service_name in ("pitcall-ingest", "pitcall-api", "pitcall-ingest-host1", "PITCALL-canary", "pitcall"):
        reserved = runner.invoke(app, ["devices", "provision", service_name, "--vin", "LSVAU2180N2183294"])
        assert reserved.exit_code == 1 and "is reserved" in reserved.output, service_name
    assert scalar(db_url, "SELECT count(*) FROM devices") == 1
    revoked = runner.invoke(app, ["devices", "revoke", "dongle-00042"])
    assert revoked.exit_code == 0
    assert scalar(db_url, "SELECT state FROM devices") == "revoked"


def test_maintain_command_rolls_up_and_applies_retention_once(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    vehicle_id = _vehicle(db_url)
    now = datetime.now(UTC)
    with make_engine(db_url).begin() as conn:
        conn.execute(insert(telemetry).values(ts=now, vehicle_id=vehicle_id, device_id="d", seq=1, pids={"SPEED": 42}))
        conn.execute(
            insert(rollup_invalidations).values(
                vehicle_id=vehicle_id, bucket=now.replace(minute=0, second=0, microsecond=0)
            )
        )
    monkeypatch.setenv("PITCALL_DATABASE_URL", db_url)
    result = CliRunner().invoke(app, ["store", "maintain", "--once", "--open-hours"])
    assert result.exit_code == 0, result.output
    assert "1 vehicle-hours refreshed" in result.output
    assert rows(db_url, "SELECT pid, max, count FROM telemetry_hourly") == [("SPEED", 42.0, 1)]
