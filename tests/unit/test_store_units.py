"""Secrets in Mosquitto's format, and the SQL each TimescaleDB edition gets."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from store.broker_files import acl_file
from store.secrets import SecretFormatError, hash_secret, verify_secret
from store.timescale import Edition, edition_from_license, setup_statements, split_sql


def test_secret_hash_verifies_and_is_salted() -> None:
    stored = hash_secret("s3cret")
    assert stored.startswith("$7$")
    assert verify_secret("s3cret", stored)
    assert not verify_secret("s3cret!", stored)
    assert hash_secret("s3cret") != stored
    with pytest.raises(SecretFormatError):
        verify_secret("s3cret", "plain")


def test_secret_hash_is_what_mosquitto_passwd_writes(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "dongle-1", "s3cret"], check=True)
    stored = passwd.read_text().strip().split(":", 1)[1]
    assert verify_secret("s3cret", stored)


def test_license_maps_to_edition() -> None:
    assert edition_from_license("apache") is Edition.APACHE
    assert edition_from_license(None) is Edition.APACHE
    assert edition_from_license("timescale") is Edition.TIMESCALE


def test_apache_edition_uses_own_rollup_table_and_no_licensed_features() -> None:
    sql = "\n".join(setup_statements(Edition.APACHE))
    assert "create_hypertable('telemetry'" in sql
    assert "FROM telemetry_hourly_rollup" in sql
    for licensed in (
        "timescaledb.continuous",
        "add_compression_policy",
        "add_retention_policy",
        "timescaledb.compress",
    ):
        assert licensed not in sql


def test_licensed_edition_uses_continuous_aggregate_compression_and_retention_policies() -> None:
    statements = setup_statements(Edition.TIMESCALE)
    sql = "\n".join(statements)
    assert "CREATE MATERIALIZED VIEW telemetry_hourly_cagg WITH (timescaledb.continuous)" in sql
    assert "pitcall_pid_stats(pids)" in sql
    assert "add_continuous_aggregate_policy('telemetry_hourly_cagg'" in sql
    assert "timescaledb.compress_segmentby = 'vehicle_id'" in sql
    assert "add_compression_policy('telemetry', INTERVAL '604800 seconds')" in sql
    assert "add_retention_policy('telemetry', INTERVAL '34560000 seconds')" in sql
    assert "FROM telemetry_hourly_cagg AS c CROSS JOIN LATERAL jsonb_each(c.stats)" in sql
    assert "telemetry_hourly_rollup AS" not in sql
    assert all(s.rstrip().endswith(";") for s in statements)


def test_split_sql_keeps_function_bodies_whole() -> None:
    script = "SELECT 1;\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$\n  SELECT 1;\n  SELECT 2;\n$$;\nSELECT 3;"
    assert split_sql(script) == [
        "SELECT 1;",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$\n  SELECT 1;\n  SELECT 2;\n$$;",
        "SELECT 3;",
    ]


def test_acl_confines_devices_to_their_own_topics() -> None:
    acl = acl_file(ingest_user="pitcall-ingest")
    assert "pattern write pitcall/v1/dev/%u/telemetry" in acl
    assert "pattern read pitcall/v1/dev/%u/config" in acl
    assert "pattern write pitcall/v1/dev/%u/config" not in acl
    assert "topic read pitcall/v1/dev/+/telemetry" in acl
