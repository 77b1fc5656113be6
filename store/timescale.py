"""TimescaleDB set-up for both editions, as SQL text.

The Apache edition (what Debian builds) has hypertables, time_bucket and drop_chunks; compression,
continuous aggregates and policy jobs need the Timescale License. `edition()` reads
`timescaledb.license`; `setup_statements()` returns the SQL for that edition. Both editions expose the
same read view, `telemetry_hourly(vehicle_id, pid, bucket, min, max, avg, count)`:

- apache: pitcall's rollup job (store/rollup.py) fills the table `telemetry_hourly_rollup`, and its
  retention job calls drop_chunks.
- timescale: a continuous aggregate keeps one row per vehicle-hour with per-PID statistics in jsonb
  (older continuous aggregates cannot expand jsonb into rows: timescale/timescaledb#8703), the view expands it,
  and native compression and retention policies run inside the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class Edition(StrEnum):
    APACHE = "apache"
    TIMESCALE = "timescale"


def edition_from_license(license_setting: str | None) -> Edition:
    """Map the value of `timescaledb.license` to the features pitcall may use."""
    return Edition.TIMESCALE if license_setting == "timescale" else Edition.APACHE


@dataclass(frozen=True, slots=True)
class StorePolicy:
    """How long data is kept and when it is compressed."""

    telemetry_chunk: timedelta = timedelta(days=1)
    telemetry_retention: timedelta = timedelta(days=400)
    rollup_retention: timedelta = timedelta(days=5 * 365)
    compress_after: timedelta = timedelta(days=7)


def _interval(value: timedelta) -> str:
    return f"INTERVAL '{int(value.total_seconds())} seconds'"


HYPERTABLES = """
SELECT create_hypertable('telemetry', by_range('ts', {chunk}), create_default_indexes => false);
SELECT create_hypertable('dtc_events', by_range('ts', INTERVAL '7 days'), create_default_indexes => false);
SELECT create_hypertable('telemetry_hourly_rollup', by_range('bucket', INTERVAL '30 days'),
                         create_default_indexes => false);
"""

PID_STATS_AGGREGATE = """
CREATE OR REPLACE FUNCTION pitcall_pid_stats_merge(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT a || coalesce((
    SELECT jsonb_object_agg(k.key, CASE WHEN a ? k.key THEN jsonb_build_array(
        least((a->k.key->>0)::float8, (k.value->>0)::float8),
        greatest((a->k.key->>1)::float8, (k.value->>1)::float8),
        (a->k.key->>2)::float8 + (k.value->>2)::float8,
        (a->k.key->>3)::bigint + (k.value->>3)::bigint) ELSE k.value END)
    FROM jsonb_each(b) AS k), '{}'::jsonb)
$$;
CREATE OR REPLACE FUNCTION pitcall_pid_stats_step(state jsonb, pids jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT pitcall_pid_stats_merge(state, coalesce((
    SELECT jsonb_object_agg(k.key, jsonb_build_array(k.value, k.value, k.value, 1))
    FROM jsonb_each(pids) AS k WHERE jsonb_typeof(k.value) = 'number'), '{}'::jsonb))
$$;
CREATE OR REPLACE AGGREGATE pitcall_pid_stats(jsonb) (
  SFUNC = pitcall_pid_stats_step, STYPE = jsonb, INITCOND = '{}',
  COMBINEFUNC = pitcall_pid_stats_merge, PARALLEL = SAFE
);
"""

APACHE_VIEW = """
CREATE OR REPLACE VIEW telemetry_hourly AS
SELECT vehicle_id, pid, bucket, min, max, sum / count AS avg, count
FROM telemetry_hourly_rollup;
"""

LICENSED_ROLLUP = """
CREATE MATERIALIZED VIEW telemetry_hourly_cagg WITH (timescaledb.continuous) AS
SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket, vehicle_id, pitcall_pid_stats(pids) AS stats
FROM telemetry GROUP BY 1, 2 WITH NO DATA;
SELECT add_continuous_aggregate_policy('telemetry_hourly_cagg',
  start_offset => INTERVAL '3 days', end_offset => INTERVAL '5 minutes',
  schedule_interval => INTERVAL '5 minutes');
CREATE OR REPLACE VIEW telemetry_hourly AS
SELECT c.vehicle_id, s.key AS pid, c.bucket,
       (s.value->>0)::float8 AS min, (s.value->>1)::float8 AS max,
       (s.value->>2)::float8 / (s.value->>3)::float8 AS avg, (s.value->>3)::bigint AS count
FROM telemetry_hourly_cagg AS c CROSS JOIN LATERAL jsonb_each(c.stats) AS s;
"""

LICENSED_POLICIES = """
ALTER TABLE telemetry SET (timescaledb.compress, timescaledb.compress_segmentby = 'vehicle_id',
                           timescaledb.compress_orderby = 'ts DESC');
SELECT add_compression_policy('telemetry', {compress_after});
SELECT add_retention_policy('telemetry', {telemetry_retention});
SELECT add_retention_policy('dtc_events', {telemetry_retention});
SELECT add_retention_policy('telemetry_hourly_cagg', {rollup_retention});
"""


def setup_statements(edition: Edition, policy: StorePolicy | None = None) -> list[str]:
    """Return the SQL that turns the plain tables into hypertables with rollups and policies."""
    policy = policy or StorePolicy()
    script = HYPERTABLES.format(chunk=_interval(policy.telemetry_chunk)) + PID_STATS_AGGREGATE
    if edition is Edition.APACHE:
        script += APACHE_VIEW
    else:
        script += LICENSED_ROLLUP + LICENSED_POLICIES.format(
            compress_after=_interval(policy.compress_after),
            telemetry_retention=_interval(policy.telemetry_retention),
            rollup_retention=_interval(policy.rollup_retention),
        )
    return split_sql(script)


def split_sql(script: str) -> list[str]:
    """Split a script on semicolons that end a line, keeping $$-quoted bodies whole."""
    statements: list[str] = []
    current: list[str] = []
    in_body = False
    for line in script.splitlines():
        current.append(line)
        in_body ^= line.count("$$") % 2 == 1
        if not in_body and line.rstrip().endswith(";"):
            statement = "\n".join(current).strip()
            if statement:
                statements.append(statement)
            current = []
    rest = "\n".join(current).strip()
    if rest:
        statements.append(rest)
    return statements
