"""Write one batch's rows to TimescaleDB in one transaction (asyncpg, binary COPY).

Contract: `write` either commits every row of the WriteSet or nothing. Redelivered samples are
ignored by the unique (vehicle_id, ts) keys. Errors are re-raised as TransientStoreError (the
database is unreachable or busy: retry the same batch) or RejectedByStoreError (the rows are
refused: isolate the culprit).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

from ingest.errors import RejectedByStoreError, TransientStoreError
from ingest.rows import WriteSet

TELEMETRY_COLUMNS = ("ts", "vehicle_id", "device_id", "seq", "pids")
DEAD_LETTER_COLUMNS = ("received_at", "topic", "device_id", "reason", "detail", "payload", "payload_bytes")
TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "55", "57", "58")

CREATE_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS telemetry_staging (LIKE telemetry) ON COMMIT DELETE ROWS
"""
MERGE_STAGING = """
INSERT INTO telemetry (ts, vehicle_id, device_id, seq, pids)
SELECT ts, vehicle_id, device_id, seq, pids FROM telemetry_staging
ON CONFLICT (vehicle_id, ts) DO NOTHING
"""
INSERT_DTC = """
INSERT INTO dtc_events (ts, vehicle_id, device_id, seq, mil, stored, pending, permanent, freeze_frame)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
ON CONFLICT (vehicle_id, ts) DO NOTHING
"""
UPSERT_STATUS = """
INSERT INTO device_status (device_id, online, ts, agent_version, adapter, protocol, buffer_depth, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (device_id) DO UPDATE SET online = excluded.online, ts = excluded.ts,
  agent_version = excluded.agent_version, adapter = excluded.adapter, protocol = excluded.protocol,
  buffer_depth = excluded.buffer_depth, received_at = excluded.received_at
WHERE device_status.ts <= excluded.ts
"""
INSERT_INVALIDATIONS = """
INSERT INTO rollup_invalidations (vehicle_id, bucket)
SELECT * FROM unnest($1::int[], $2::timestamptz[]) ON CONFLICT DO NOTHING
"""
UPDATE_PROGRESS = """
UPDATE devices SET last_seq = greatest(coalesce(devices.last_seq, -1), u.seq),
                   last_seen_at = greatest(coalesce(devices.last_seen_at, u.seen), u.seen)
FROM unnest($1::text[], $2::bigint[], $3::timestamptz[]) AS u(device_id, seq, seen)
WHERE devices.device_id = u.device_id
"""


@dataclass(frozen=True, slots=True)
class WriteResult:
    samples_stored: int
    samples_duplicate: int
    dtc_stored: int


def is_transient(exc: BaseException) -> bool:
    """Tell whether a database error may go away if the same batch is tried again."""
    if isinstance(exc, asyncpg.PostgresError):
        return (exc.sqlstate or "").startswith(TRANSIENT_SQLSTATE_CLASSES)
    return isinstance(
        exc,
        (
            OSError,
            asyncio.TimeoutError,
            asyncpg.InterfaceError,
            asyncpg.exceptions.ConnectionDoesNotExistError,
        ),
    )


async def prepare_connection(conn: asyncpg.Connection) -> None:
    """Per-connection set-up (pool `init`): the staging table for redelivered batches."""
    await conn.execute(CREATE_STAGING)


async def write(pool: asyncpg.Pool, rows: WriteSet, *, timeout_s: float = 30.0) -> WriteResult:
    """Write a batch in one transaction; raise TransientStoreError or RejectedByStoreError."""
    try:
        async with pool.acquire(timeout=timeout_s) as conn, conn.transaction():
            return await asyncio.wait_for(_write(conn, rows), timeout_s)
    except (TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        if is_transient(exc):
            raise TransientStoreError(f"{type(exc).__name__}: {exc}") from exc
        raise RejectedByStoreError(f"{type(exc).__name__}: {exc}") from exc


async def _write(conn: asyncpg.Connection, rows: WriteSet) -> WriteResult:
    stored = await _write_telemetry(conn, rows)
    dtc_stored = 0
    if rows.dtc:
        for dtc in rows.dtc:
            status = await conn.execute(INSERT_DTC, *dtc)
            dtc_stored += int(status.rsplit(" ", 1)[-1])
    if rows.statuses:
        await conn.executemany(UPSERT_STATUS, [rows.statuses[d] for d in sorted(rows.statuses)])
    if rows.dead_letters:
        await conn.copy_records_to_table("dead_letters", records=rows.dead_letters, columns=DEAD_LETTER_COLUMNS)
    if rows.invalidations:
        pairs = rows.sorted_invalidations()
        await conn.execute(INSERT_INVALIDATIONS, [p[0] for p in pairs], [p[1] for p in pairs])
    if rows.device_progress:
        progress = rows.sorted_progress()
        await conn.execute(UPDATE_PROGRESS, *map(list, zip(*progress, strict=True)))
    return WriteResult(samples_stored=stored, samples_duplicate=len(rows.telemetry) - stored, dtc_stored=dtc_stored)


async def _write_telemetry(conn: asyncpg.Connection, rows: WriteSet) -> int:
    """COPY straight into the hypertable; if a sample is already there, merge through staging."""
    if not rows.telemetry:
        return 0
    try:
        async with conn.transaction():
            await conn.copy_records_to_table("telemetry", records=rows.telemetry, columns=TELEMETRY_COLUMNS)
        return len(rows.telemetry)
    except asyncpg.UniqueViolationError:
        pass
    await conn.copy_records_to_table("telemetry_staging", records=rows.telemetry, columns=TELEMETRY_COLUMNS)
    status = await conn.execute(MERGE_STAGING)
    await conn.execute("TRUNCATE telemetry_staging")
    return int(status.rsplit(" ", 1)[-1])
