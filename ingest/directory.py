"""The device registry as ingest sees it: a cache of devices, refreshed from the database."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

import asyncpg

from ingest.errors import IngestError, TransientStoreError
from ingest.validate import DeviceRecord
from ingest.writer import is_transient

SELECT_DEVICES = """
SELECT d.device_id, d.vehicle_id, v.vin, d.state = 'active' AS active
FROM devices AS d JOIN vehicles AS v ON v.id = d.vehicle_id
"""


class DeviceDirectory:
    """Device records by id. A full reload every `refresh_s` picks up revocations; ids not yet known
    are looked up when they first appear, so a freshly provisioned device is accepted at once."""

    def __init__(
        self, pool: asyncpg.Pool, *, refresh_s: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._pool = pool
        self._refresh_s = refresh_s
        self._monotonic = monotonic
        self._records: dict[str, DeviceRecord] = {}
        self._loaded_at: float | None = None

    @property
    def records(self) -> Mapping[str, DeviceRecord]:
        return self._records

    async def ensure(self, device_ids: Iterable[str]) -> Mapping[str, DeviceRecord]:
        """Make the cache current for these ids; raise TransientStoreError if the database is away."""
        try:
            now = self._monotonic()
            if self._loaded_at is None or now - self._loaded_at >= self._refresh_s:
                rows = await self._pool.fetch(SELECT_DEVICES)
                self._records = {row["device_id"]: _record(row) for row in rows}
                self._loaded_at = now
            missing = sorted({d for d in device_ids if d not in self._records})
            if missing:
                rows = await self._pool.fetch(SELECT_DEVICES + " WHERE d.device_id = ANY($1::text[])", missing)
                self._records.update({row["device_id"]: _record(row) for row in rows})
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            if is_transient(exc):
                raise TransientStoreError(f"device lookup failed: {exc}") from exc
            raise IngestError(f"device lookup failed (is the database migrated?): {exc}") from exc
        return self._records


def _record(row: asyncpg.Record) -> DeviceRecord:
    return DeviceRecord(device_id=row["device_id"], vehicle_id=row["vehicle_id"], vin=row["vin"], active=row["active"])
