"""The bookings calendar: a store's bays, technicians, shifts, opening hours and bookings in one read.

Shifts and opening hours are weekly local hours, expanded here to dated intervals in the store's time
zone; every time in the answer is given in that time zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, select

from api.dashboard import periods
from api.dashboard.periods import Interval, WeeklyHours
from api.dashboard.schemas import CalendarBay, CalendarBooking, CalendarInterval, CalendarOut, CalendarTechnician
from api.dashboard.service import store_technicians, store_timezone
from api.errors import Invalid
from api.tenancy import StoreScope
from store.service_tables import (
    bays,
    bookings,
    opening_hours,
    service_operations,
    work_orders,
)
from store.tables import vehicles

MAX_RANGE_DAYS = 31
CALENDAR_BOOKING_STATES = ("proposed", "confirmed", "in_service", "completed")


def calendar(
    conn: Connection, *, scope: StoreScope, store_id: int | None, starts_at: datetime, ends_at: datetime
) -> CalendarOut:
    """Everything the bookings calendar shows for [starts_at, ends_at); 422 for a naive or > 31-day range."""
    try:
        periods.check_range(starts_at, ends_at, max_days=MAX_RANGE_DAYS)
    except periods.RangeError as exc:
        raise Invalid(str(exc)) from exc
    sid = scope.single_store(store_id)
    tz = store_timezone(conn, scope=scope, store_id=sid)
    oh = opening_hours.c
    hours = [
        WeeklyHours(r.weekday, r.opens_at, r.closes_at)
        for r in conn.execute(select(opening_hours).where(scope.where(opening_hours), oh.store_id == sid))
    ]
    bay_rows = conn.execute(select(bays).where(scope.where(bays), bays.c.store_id == sid).order_by(bays.c.name))
    return CalendarOut(
        store_id=sid, timezone=str(tz), starts_at=starts_at.astimezone(tz), ends_at=ends_at.astimezone(tz),
        opening_hours=_intervals(periods.expand(hours, tz, starts_at, ends_at)),
        bays=[CalendarBay(id=r.id, name=r.name, active=r.active) for r in bay_rows],
        technicians=_technicians(conn, scope, sid, tz, starts_at, ends_at),
        bookings=_bookings(conn, scope, sid, tz, starts_at, ends_at),
    )  # fmt: skip


def _intervals(intervals: Iterable[Interval]) -> list[CalendarInterval]:
    return [CalendarInterval(day=i.day, starts_at=i.starts_at, ends_at=i.ends_at) for i in intervals]


def _technicians(
    conn: Connection, scope: StoreScope, sid: int, tz: ZoneInfo, starts_at: datetime, ends_at: datetime
) -> list[CalendarTechnician]:
    people, shifts = store_technicians(conn, scope=scope, store_id=sid)
    return [
        CalendarTechnician(
            id=p.id, name=p.name, skills=list(p.skills), active=p.active,
            shifts=_intervals(periods.expand(shifts[p.id], tz, starts_at, ends_at)),
        )
        for p in people
    ]  # fmt: skip


def _bookings(
    conn: Connection, scope: StoreScope, sid: int, tz: ZoneInfo, starts_at: datetime, ends_at: datetime
) -> list[CalendarBooking]:
    b, op, wo = bookings.c, service_operations.c, work_orders.c
    query = (
        select(
            b.id, b.state, b.starts_at, b.ends_at, b.technician_id, b.bay_id, b.vehicle_id, vehicles.c.vin,
            b.op_code, op.name_en, op.name_zh, b.alert_id, wo.id.label("work_order_id"),
        )
        .join(vehicles, and_(vehicles.c.id == b.vehicle_id, scope.where(vehicles)))
        .join(service_operations, op.op_code == b.op_code)
        .outerjoin(work_orders, and_(wo.booking_id == b.id, scope.where(work_orders)))
        .where(
            scope.where(bookings), b.store_id == sid, b.state.in_(CALENDAR_BOOKING_STATES),
            b.starts_at < ends_at, b.ends_at > starts_at,
        )
        .order_by(b.starts_at, b.id)
    )  # fmt: skip
    return [
        CalendarBooking(
            id=r.id, state=r.state, starts_at=r.starts_at.astimezone(tz), ends_at=r.ends_at.astimezone(tz),
            technician_id=r.technician_id, bay_id=r.bay_id, vehicle_id=r.vehicle_id, vin=r.vin, op_code=r.op_code,
            op_name_en=r.name_en, op_name_zh=r.name_zh, alert_id=r.alert_id, work_order_id=r.work_order_id,
        )
        for r in conn.execute(query)
    ]  # fmt: skip
