"""Bookings, reads: what the slot search needs (four indexed queries), slot proposals, listing.

The search itself is pure (api/bookings/slots.py); writes are in api/bookings/commands.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, func, select, tuple_

from api.bookings.lifecycle import HOLDS_CAPACITY, BookingState
from api.bookings.schemas import BookingDetail, BookingOut, ReservationOut, SlotOut, SlotsOut
from api.bookings.slots import (
    Capacity,
    Hours,
    Operation,
    PartNeed,
    PartStock,
    Period,
    Slot,
    Technician,
    find_slots,
    parts_ready_on,
)
from api.errors import Invalid, NotFound
from api.pagination import Page, decode_cursor, encode_cursor
from api.tenancy import StoreScope
from store.service_tables import (
    bays,
    bookings,
    opening_hours,
    part_reservations,
    part_stock,
    service_operations,
    store_settings,
    technician_shifts,
    technicians,
)
from store.tables import alerts, stores, vehicles

DEFAULT_STEP_MINUTES = 30
DEFAULT_HORIZON_DAYS = 21
LONGEST_BOOKING = timedelta(days=1)  # a booking lies within one day's opening hours


@dataclass(frozen=True, slots=True)
class ProposalInputs:
    """A store's capacity for one operation over [earliest, until), as the slot search takes it."""

    store_id: int
    now: datetime
    timezone: ZoneInfo
    operation: Operation
    labour_hours: float
    capacity: Capacity
    earliest: datetime
    until: datetime
    step: timedelta
    auto_propose_critical: bool
    technician_names: dict[int, str]
    bay_names: dict[int, str]

    def slots(self, count: int) -> list[Slot]:
        """Return the earliest `count` slots."""
        return find_slots(
            self.operation, self.capacity, earliest=self.earliest, until=self.until, step=self.step, count=count
        )

    def slot_out(self, slot: Slot) -> SlotOut:
        return SlotOut(
            technician_id=slot.technician_id,
            technician_name=self.technician_names.get(slot.technician_id, ""),
            bay_id=slot.bay_id,
            bay_name=self.bay_names.get(slot.bay_id, ""),
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
        )

    def today(self) -> date:
        """Return the store's local date at `now`."""
        return self.now.astimezone(self.timezone).date()


def proposal_inputs(
    conn: Connection,
    *,
    store_id: int,
    op_code: str,
    earliest: datetime,
    now: datetime,
    technician_id: int | None = None,
) -> ProposalInputs:
    """Read a store's capacity for `op_code` from max(earliest, now) to now + the booking horizon.

    Four queries, each on an index: the store with its settings, opening hours, bays and the
    operation; the active technicians with the skill and their shifts; the capacity-holding bookings
    overlapping the window; the stock of the operation's parts. Raises NotFound for an unknown op.
    """
    head = _store_and_operation(conn, store_id, op_code)
    tz = ZoneInfo(head.timezone)
    horizon = timedelta(days=head.booking_horizon_days or DEFAULT_HORIZON_DAYS)
    start, until = max(earliest, now), now + horizon
    operation = Operation(
        op_code=head.op_code,
        skill=head.skill,
        labour=timedelta(hours=head.labour_hours),
        parts=tuple(PartNeed(p["part_no"], int(p["qty"])) for p in head.parts),
    )
    techs, names = _technicians(conn, store_id, operation.skill, technician_id)
    technician_busy, bay_busy = _busy(conn, store_id, start, until)
    capacity = Capacity(
        timezone=tz,
        opening={int(d): Hours(time.fromisoformat(o), time.fromisoformat(c)) for d, o, c in head.hours or []},
        technicians=techs,
        bay_ids=[int(b) for b, _ in head.bays or []],
        technician_busy=technician_busy,
        bay_busy=bay_busy,
        stock=_stock(conn, store_id, operation),
    )
    return ProposalInputs(
        store_id=store_id,
        now=now,
        timezone=tz,
        operation=operation,
        labour_hours=head.labour_hours,
        capacity=capacity,
        earliest=start,
        until=until,
        step=timedelta(minutes=head.slot_step_minutes or DEFAULT_STEP_MINUTES),
        auto_propose_critical=bool(head.auto_propose_critical),
        technician_names=names,
        bay_names={int(b): str(n) for b, n in head.bays or []},
    )


def _store_and_operation(conn: Connection, store_id: int, op_code: str) -> Any:
    oh, bay = opening_hours.c, bays.c
    hours = (
        select(func.jsonb_agg(func.jsonb_build_array(oh.weekday, oh.opens_at, oh.closes_at)))
        .where(oh.store_id == stores.c.id)
        .scalar_subquery()
    )
    active_bays = (
        select(func.jsonb_agg(func.jsonb_build_array(bay.id, bay.name)))
        .where(bay.store_id == stores.c.id, bay.active)
        .scalar_subquery()
    )
    ops, settings = service_operations.c, store_settings.c
    query = (
        select(
            stores.c.timezone,
            settings.slot_step_minutes,
            settings.booking_horizon_days,
            settings.auto_propose_critical,
            ops.op_code,
            ops.skill,
            ops.labour_hours,
            ops.parts,
            hours.label("hours"),
            active_bays.label("bays"),
        )
        .select_from(
            stores.join(service_operations, ops.op_code == op_code).outerjoin(
                store_settings, settings.store_id == stores.c.id
            )
        )
        .where(stores.c.id == store_id)
    )
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no service operation {op_code}")
    return row


def _technicians(
    conn: Connection, store_id: int, skill: str, technician_id: int | None
) -> tuple[list[Technician], dict[int, str]]:
    t, s = technicians.c, technician_shifts.c
    query = (
        select(t.id, t.name, t.skills, s.weekday, s.starts_at, s.ends_at)
        .select_from(technicians.outerjoin(technician_shifts, s.technician_id == t.id))
        .where(t.store_id == store_id, t.active, t.skills.contains([skill]))
    )
    if technician_id is not None:
        query = query.where(t.id == technician_id)
    shifts: dict[int, dict[int, Hours]] = {}
    skills: dict[int, frozenset[str]] = {}
    names: dict[int, str] = {}
    for row in conn.execute(query):
        skills[row.id], names[row.id] = frozenset(row.skills), row.name
        week = shifts.setdefault(row.id, {})
        if row.weekday is not None:
            week[row.weekday] = Hours(row.starts_at, row.ends_at)
    return [Technician(i, skills[i], shifts[i]) for i in sorted(skills)], names


def _busy(
    conn: Connection, store_id: int, start: datetime, until: datetime
) -> tuple[dict[int, list[Period]], dict[int, list[Period]]]:
    b = bookings.c
    query = select(b.technician_id, b.bay_id, b.starts_at, b.ends_at).where(
        b.store_id == store_id,
        b.starts_at < until,
        b.starts_at > start - LONGEST_BOOKING,  # bounds the index range scan
        b.ends_at > start,
        b.state.in_(sorted(HOLDS_CAPACITY)),
    )
    by_technician: dict[int, list[Period]] = {}
    by_bay: dict[int, list[Period]] = {}
    for technician_id, bay_id, starts_at, ends_at in conn.execute(query).all():
        period = Period(starts_at, ends_at)
        by_technician.setdefault(technician_id, []).append(period)
        by_bay.setdefault(bay_id, []).append(period)
    return by_technician, by_bay


def _stock(conn: Connection, store_id: int, operation: Operation) -> dict[str, PartStock]:
    if not operation.parts:
        return {}
    p = part_stock.c
    query = select(p.part_no, p.on_hand, p.reserved, p.incoming_qty, p.incoming_on).where(
        p.store_id == store_id, p.part_no.in_([need.part_no for need in operation.parts])
    )
    return {
        r.part_no: PartStock(r.part_no, r.on_hand, r.reserved, r.incoming_qty, r.incoming_on)
        for r in conn.execute(query)
    }


def search_slots(
    conn: Connection,
    *,
    scope: StoreScope,
    vehicle_id: int,
    op_code: str,
    earliest: datetime | None,
    count: int,
    technician_id: int | None = None,
    now: datetime | None = None,
) -> SlotsOut:
    """Propose the earliest slots for a vehicle (of a store in scope) and an operation."""
    vehicle = scope.get(conn, vehicles, vehicle_id, what="vehicle")
    return _store_slots(conn, vehicle.store_id, op_code, earliest, count, technician_id, now)


def search_alert_slots(
    conn: Connection, *, scope: StoreScope, alert_id: int, earliest: datetime | None, count: int
) -> SlotsOut:
    """Propose the earliest slots for the operation an alert recommends, at the alert's store."""
    alert = scope.get(conn, alerts, alert_id, what="alert")
    return _store_slots(conn, alert.store_id, alert.operation, earliest, count, None, None)


def _store_slots(
    conn: Connection,
    store_id: int,
    op_code: str,
    earliest: datetime | None,
    count: int,
    technician_id: int | None,
    now: datetime | None,
) -> SlotsOut:
    now = now or datetime.now(UTC)
    inputs = proposal_inputs(
        conn, store_id=store_id, op_code=op_code, earliest=earliest or now, now=now, technician_id=technician_id
    )
    ready = parts_ready_on(inputs.operation, inputs.capacity.stock)
    return SlotsOut(
        store_id=inputs.store_id,
        op_code=inputs.operation.op_code,
        labour_hours=inputs.labour_hours,
        timezone=str(inputs.timezone),
        parts_ready_on=None if ready is None else max(ready, inputs.today()),
        slots=[inputs.slot_out(s) for s in inputs.slots(count)],
    )


def get_booking(conn: Connection, *, scope: StoreScope, booking_id: int) -> BookingDetail:
    """One booking with its part reservations."""
    row = scope.get(conn, bookings, booking_id, what="booking")
    r = part_reservations.c
    reservations = conn.execute(
        select(r.part_no, r.qty, r.available_on, r.state).where(r.booking_id == booking_id).order_by(r.part_no, r.id)
    ).all()
    return BookingDetail(
        **_out(row).model_dump(), reservations=[ReservationOut(**dict(x._mapping)) for x in reservations]
    )


def list_bookings(
    conn: Connection,
    *,
    scope: StoreScope,
    starts_from: datetime | None,
    starts_to: datetime | None,
    technician_id: int | None,
    bay_id: int | None,
    vehicle_id: int | None,
    states: list[BookingState],
    cursor: str | None,
    limit: int,
    store_id: int | None = None,
) -> Page[BookingOut]:
    """Bookings in scope by start time (then id), filtered; cursor pages."""
    b = bookings.c
    query: Select[Any] = select(bookings).where(scope.where(bookings))
    filters = ((b.technician_id, technician_id), (b.bay_id, bay_id), (b.vehicle_id, vehicle_id), (b.store_id, store_id))
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    if starts_from is not None:
        query = query.where(b.starts_at >= starts_from)
    if starts_to is not None:
        query = query.where(b.starts_at < starts_to)
    if states:
        query = query.where(b.state.in_([s.value for s in states]))
    after = decode_cursor(cursor, 2)
    if after is not None:
        query = query.where(tuple_(b.starts_at, b.id) > tuple_(*_cursor_key(after)))
    rows = conn.execute(query.order_by(b.starts_at, b.id).limit(limit + 1)).all()
    next_cursor = (
        encode_cursor([rows[limit - 1].starts_at.isoformat(), rows[limit - 1].id]) if len(rows) > limit else None
    )
    return Page[BookingOut](items=[_out(r) for r in rows[:limit]], next_cursor=next_cursor)


def _cursor_key(values: list[Any]) -> tuple[datetime, int]:
    try:
        return datetime.fromisoformat(str(values[0])), int(values[1])
    except (ValueError, TypeError) as exc:
        raise Invalid("the cursor is not valid") from exc


def _out(row: Any) -> BookingOut:
    m = row._mapping
    return BookingOut.model_validate({k: m[k] for k in BookingOut.model_fields})
