"""Telemetry of one vehicle for dealership modules: latest values, series per PID, DTCs, device status.

The telemetry tables have no store_id: every function first finds the vehicle through the caller's
scope (404 for another store's) and only then reads its samples.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, case, select, text

from api.errors import Invalid, NotFound
from api.pagination import Page, decode_cursor, encode_cursor
from api.tenancy import StoreScope
from api.vehicles.rules import Bucket, Source, VehicleRuleError, plan_series
from api.vehicles.schemas import DeviceStatusOut, DtcEventOut, LatestOut, LatestReading, SeriesOut, SeriesPoint
from store.tables import device_status, devices, dtc_events, stores, vehicles

LATEST_SAMPLES = 300  # five minutes at 1 Hz: the slow set (read once a minute) is in them several times

LATEST = text("""
SELECT DISTINCT ON (kv.key) kv.key AS pid, kv.value::text::float8 AS value, s.ts
FROM (SELECT ts, pids FROM telemetry
      WHERE vehicle_id = :vehicle_id AND ts >= :since AND ts <= :until
      ORDER BY ts DESC LIMIT :samples) AS s
CROSS JOIN LATERAL jsonb_each(s.pids) AS kv
WHERE jsonb_typeof(kv.value) = 'number'
ORDER BY kv.key, s.ts DESC
""")

NEWEST_SAMPLE = text("""
SELECT max(ts) FROM (SELECT ts FROM telemetry
  WHERE vehicle_id = :vehicle_id AND ts >= :since AND ts <= :until ORDER BY ts DESC LIMIT 1) AS s
""")

# Re-bucket the hourly rollup (the view both editions expose); the rollup's key (vehicle_id, pid,
# bucket) serves the range. A bucket's avg is weighted by its hours' counts.
ROLLUP_SERIES = """
SELECT {bucket} AS start, sum(avg * count) / sum(count) AS avg, min(min) AS min, max(max) AS max,
       sum(count)::bigint AS count
FROM telemetry_hourly
WHERE vehicle_id = :vehicle_id AND pid = CAST(:pid AS text) AND bucket >= :start AND bucket < :end
GROUP BY 1 ORDER BY 1
"""

RAW_SERIES = text("""
SELECT time_bucket(CAST(:width AS interval), ts) AS start, avg(x) AS avg, min(x) AS min, max(x) AS max,
       count(*) AS count
FROM telemetry CROSS JOIN LATERAL (SELECT (pids ->> CAST(:pid AS text))::float8 AS x) AS v
WHERE vehicle_id = :vehicle_id AND ts >= :start AND ts < :end
  AND jsonb_typeof(pids -> CAST(:pid AS text)) = 'number'
GROUP BY 1 ORDER BY 1
""")

UTC_BUCKET = "time_bucket(CAST(:width AS interval), bucket)"
LOCAL_BUCKET = "time_bucket(CAST(:width AS interval), bucket, CAST(:tz AS text))"


def _vehicle(conn: Connection, scope: StoreScope, vehicle_id: int) -> Row[Any]:
    return scope.get(conn, vehicles, vehicle_id, what="vehicle")


def latest(conn: Connection, *, scope: StoreScope, vehicle_id: int, now: datetime, lookback: timedelta) -> LatestOut:
    """The newest value of each PID among the vehicle's newest samples within `lookback` of `now`."""
    _vehicle(conn, scope, vehicle_id)
    params = {"vehicle_id": vehicle_id, "since": now - lookback, "until": now, "samples": LATEST_SAMPLES}
    rows = conn.execute(LATEST, params).all()
    sample_at = conn.execute(NEWEST_SAMPLE, params).scalar()
    return LatestOut(
        vehicle_id=vehicle_id,
        sample_at=sample_at,
        lookback_from=now - lookback,
        readings=[LatestReading(pid=r.pid, value=r.value, ts=r.ts) for r in rows],
    )


def series(
    conn: Connection, *, scope: StoreScope, vehicle_id: int, pid: str, start: datetime, end: datetime, bucket: Bucket
) -> SeriesOut:
    """Per-bucket avg/min/max/count of one PID, from the rollup or the raw samples (see plan_series)."""
    vehicle = _vehicle(conn, scope, vehicle_id)
    try:
        plan = plan_series(pid=pid, start=start, end=end, bucket=bucket)
    except VehicleRuleError as exc:
        raise Invalid(str(exc)) from exc
    params: dict[str, Any] = {
        "vehicle_id": vehicle_id, "pid": plan.pid, "start": plan.start, "end": plan.end, "width": plan.width,
    }  # fmt: skip
    if plan.source is Source.RAW:
        query = RAW_SERIES
    elif plan.local_days:
        query = text(ROLLUP_SERIES.format(bucket=LOCAL_BUCKET))
        params["tz"] = conn.execute(select(stores.c.timezone).where(stores.c.id == vehicle.store_id)).scalar_one()
    else:
        query = text(ROLLUP_SERIES.format(bucket=UTC_BUCKET))
    points = [
        SeriesPoint(start=r.start, avg=r.avg, min=r.min, max=r.max, count=r.count) for r in conn.execute(query, params)
    ]
    return SeriesOut(
        vehicle_id=vehicle_id, pid=plan.pid, bucket=plan.bucket, source=plan.source,
        start=plan.start, end=plan.end, points=points,
    )  # fmt: skip


def dtc_history(
    conn: Connection,
    *,
    scope: StoreScope,
    vehicle_id: int,
    start: datetime | None,
    end: datetime | None,
    cursor: str | None,
    limit: int,
) -> Page[DtcEventOut]:
    """The vehicle's DTC reports newest first; one per (vehicle, ts), so ts is the page key."""
    _vehicle(conn, scope, vehicle_id)
    query = select(dtc_events).where(dtc_events.c.vehicle_id == vehicle_id)
    if start is not None:
        query = query.where(dtc_events.c.ts >= start)
    if end is not None:
        query = query.where(dtc_events.c.ts < end)
    after = decode_cursor(cursor, 1)
    if after is not None:
        query = query.where(dtc_events.c.ts < _cursor_time(after[0]))
    rows = conn.execute(query.order_by(dtc_events.c.ts.desc()).limit(limit + 1)).all()
    next_cursor = encode_cursor([rows[limit - 1].ts.isoformat()]) if len(rows) > limit else None
    items = [DtcEventOut.model_validate(dict(r._mapping)) for r in rows[:limit]]
    return Page[DtcEventOut](items=items, next_cursor=next_cursor)


def _cursor_time(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise Invalid("the cursor is not valid") from exc


def device_of(conn: Connection, *, scope: StoreScope, vehicle_id: int) -> DeviceStatusOut:
    """The device that speaks for the vehicle (the active one, else the newest revoked) and its status."""
    vehicle = _vehicle(conn, scope, vehicle_id)
    row = conn.execute(
        select(devices, device_status.c.online, device_status.c.ts.label("status_at"), device_status.c.agent_version,
               device_status.c.adapter, device_status.c.protocol, device_status.c.buffer_depth)
        .outerjoin(device_status, device_status.c.device_id == devices.c.device_id)
        .where(devices.c.vehicle_id == vehicle_id, scope.where(devices))
        .order_by(case((devices.c.state == "active", 0), else_=1), devices.c.created_at.desc())
        .limit(1)
    ).first()  # fmt: skip
    if row is None:
        raise NotFound(f"vehicle {vehicle_id} has no device")
    m = dict(row._mapping)
    revoked = m["state"] == "revoked"
    m.update(vin=vehicle.vin, revoked=revoked, online=bool(m["online"]) and not revoked)
    return DeviceStatusOut.model_validate(m)
