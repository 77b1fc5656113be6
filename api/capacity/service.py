"""Store capacity: technicians and their weekly shifts, bays, opening hours, settings, the operation
catalog and parts stock. Services never commit; every store-owned read and write goes through StoreScope.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from psycopg.errors import CheckViolation, UniqueViolation
from sqlalchemy import Connection, delete, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from api.bookings.lifecycle import HOLDS_CAPACITY
from api.capacity.schemas import (
    BayIn,
    BayOut,
    BayPatch,
    DayHours,
    OpeningHoursOut,
    OperationOut,
    SettingsOut,
    SettingsPatch,
    StockOut,
    StockUpdate,
    TechnicianIn,
    TechnicianOut,
    TechnicianPatch,
)
from api.errors import Conflict, Invalid
from api.pagination import Page, decode_cursor, encode_cursor
from api.tenancy import StoreScope
from store.service_tables import (
    bays,
    bookings,
    opening_hours,
    part_stock,
    parts,
    service_operations,
    store_settings,
    technician_shifts,
    technicians,
)
from store.tables import stores

# --- technicians ----------------------------------------------------------------------------------


def list_technicians(
    conn: Connection, *, scope: StoreScope, store_id: int, skill: str | None, active: bool | None,
    cursor: str | None, limit: int,
) -> Page[TechnicianOut]:  # fmt: skip
    """A store's technicians by id, with their shifts."""
    scope.check(store_id)
    t = technicians.c
    query = select(technicians).where(scope.where(technicians), t.store_id == store_id)
    if skill is not None:
        query = query.where(t.skills.contains([skill]))
    if active is not None:
        query = query.where(t.active == active)
    after = decode_cursor(cursor, 1)
    if after is not None:
        query = query.where(t.id > _cursor_id(after))
    rows = conn.execute(query.order_by(t.id).limit(limit + 1)).all()
    shifts = _shifts(conn, [r.id for r in rows[:limit]])
    items = [_technician(r, shifts.get(r.id, [])) for r in rows[:limit]]
    return Page[TechnicianOut](
        items=items, next_cursor=encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    )


def get_technician(conn: Connection, *, scope: StoreScope, technician_id: int) -> TechnicianOut:
    row = scope.get(conn, technicians, technician_id, what="technician")
    return _technician(row, _shifts(conn, [technician_id]).get(technician_id, []))


def create_technician(conn: Connection, *, scope: StoreScope, store_id: int, body: TechnicianIn) -> TechnicianOut:
    """Add a technician with skills and a weekly shift pattern to a store."""
    scope.check(store_id)
    technician_id = int(
        conn.scalar(
            insert(technicians)
            .values(store_id=store_id, name=body.name, skills=body.skills, active=body.active)
            .returning(technicians.c.id)
        )
    )
    _write_shifts(conn, technician_id, body.shifts)
    return get_technician(conn, scope=scope, technician_id=technician_id)


def update_technician(
    conn: Connection, *, scope: StoreScope, technician_id: int, body: TechnicianPatch, now: datetime | None = None
) -> TechnicianOut:
    """Change a technician's name, skills or active flag; deactivating one with future bookings is a 409."""
    scope.get(conn, technicians, technician_id, what="technician", lock=True)
    changes = body.model_dump(exclude_none=True)
    if changes.get("active") is False:
        _refuse_if_booked(conn, technician_id, now or datetime.now(UTC))
    if changes:
        conn.execute(update(technicians).where(technicians.c.id == technician_id).values(**changes))
    return get_technician(conn, scope=scope, technician_id=technician_id)


def replace_shifts(conn: Connection, *, scope: StoreScope, technician_id: int, days: list[DayHours]) -> TechnicianOut:
    """Replace a technician's weekly shifts (confirmed bookings stay; new slots follow the new week)."""
    scope.get(conn, technicians, technician_id, what="technician", lock=True)
    conn.execute(delete(technician_shifts).where(technician_shifts.c.technician_id == technician_id))
    _write_shifts(conn, technician_id, days)
    return get_technician(conn, scope=scope, technician_id=technician_id)


def _refuse_if_booked(conn: Connection, technician_id: int, now: datetime) -> None:
    b = bookings.c
    held = conn.scalars(
        select(b.id)
        .where(b.technician_id == technician_id, b.state.in_(sorted(HOLDS_CAPACITY)), b.ends_at > now)
        .order_by(b.starts_at)
        .limit(20)
    ).all()
    if held:
        raise Conflict(
            "the technician has confirmed bookings ahead; move or cancel them first",
            details={"booking_ids": list(held)},
        )


def _write_shifts(conn: Connection, technician_id: int, days: list[DayHours]) -> None:
    if days:
        conn.execute(
            insert(technician_shifts),
            [{"technician_id": technician_id, "weekday": d.weekday, "starts_at": d.starts_at, "ends_at": d.ends_at}
             for d in days],
        )  # fmt: skip


def _shifts(conn: Connection, technician_ids: list[int]) -> dict[int, list[DayHours]]:
    s = technician_shifts.c
    found: dict[int, list[DayHours]] = {}
    if technician_ids:
        query = (
            select(technician_shifts).where(s.technician_id.in_(technician_ids)).order_by(s.technician_id, s.weekday)
        )
        for r in conn.execute(query):
            found.setdefault(r.technician_id, []).append(
                DayHours(weekday=r.weekday, starts_at=r.starts_at, ends_at=r.ends_at)
            )
    return found


def _technician(row: Any, shifts: list[DayHours]) -> TechnicianOut:
    return TechnicianOut(id=row.id, store_id=row.store_id, name=row.name, skills=sorted(row.skills), active=row.active,
                         shifts=shifts)  # fmt: skip


# --- bays -----------------------------------------------------------------------------------------


def list_bays(conn: Connection, *, scope: StoreScope, store_id: int, cursor: str | None, limit: int) -> Page[BayOut]:
    """A store's bays by id."""
    scope.check(store_id)
    query = select(bays).where(scope.where(bays), bays.c.store_id == store_id)
    after = decode_cursor(cursor, 1)
    if after is not None:
        query = query.where(bays.c.id > _cursor_id(after))
    rows = conn.execute(query.order_by(bays.c.id).limit(limit + 1)).all()
    items = [BayOut(id=r.id, store_id=r.store_id, name=r.name, active=r.active) for r in rows[:limit]]
    return Page[BayOut](items=items, next_cursor=encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None)


def create_bay(conn: Connection, *, scope: StoreScope, store_id: int, body: BayIn) -> BayOut:
    """Add a service bay (names are unique per store: 409 otherwise)."""
    scope.check(store_id)
    with _unique_bay_name(conn, body.name):
        row = conn.execute(
            insert(bays).values(store_id=store_id, name=body.name, active=body.active).returning(bays)
        ).one()
    return BayOut(id=row.id, store_id=row.store_id, name=row.name, active=row.active)


def update_bay(conn: Connection, *, scope: StoreScope, bay_id: int, body: BayPatch) -> BayOut:
    """Rename or (de)activate a bay; an inactive bay gets no new slots, confirmed bookings stay."""
    row = scope.get(conn, bays, bay_id, what="bay", lock=True)
    changes = body.model_dump(exclude_none=True)
    if changes:
        with _unique_bay_name(conn, changes.get("name", row.name)):
            row = conn.execute(update(bays).where(bays.c.id == bay_id).values(**changes).returning(bays)).one()
    return BayOut(id=row.id, store_id=row.store_id, name=row.name, active=row.active)


@contextmanager
def _unique_bay_name(conn: Connection, name: str) -> Iterator[None]:
    """Run a bay write in a savepoint; a duplicate name becomes a 409."""
    try:
        with conn.begin_nested():
            yield
    except IntegrityError as exc:
        if isinstance(exc.orig, UniqueViolation):
            raise Conflict(f"the store already has a bay named {name!r}") from exc
        raise


# --- opening hours and settings -------------------------------------------------------------------


def get_opening_hours(conn: Connection, *, scope: StoreScope, store_id: int) -> OpeningHoursOut:
    """The store's weekly opening hours in its time zone."""
    scope.check(store_id)
    timezone = conn.execute(select(stores.c.timezone).where(stores.c.id == store_id)).scalar_one()
    oh = opening_hours.c
    rows = conn.execute(
        select(opening_hours).where(scope.where(opening_hours), oh.store_id == store_id).order_by(oh.weekday)
    )
    days = [DayHours(weekday=r.weekday, starts_at=r.opens_at, ends_at=r.closes_at) for r in rows]
    return OpeningHoursOut(store_id=store_id, timezone=timezone, days=days)


def replace_opening_hours(
    conn: Connection, *, scope: StoreScope, store_id: int, days: list[DayHours]
) -> OpeningHoursOut:
    """Replace the week's opening hours (a day not listed is closed; confirmed bookings stay)."""
    scope.check(store_id)
    conn.execute(delete(opening_hours).where(opening_hours.c.store_id == store_id))
    if days:
        conn.execute(
            insert(opening_hours),
            [
                {"store_id": store_id, "weekday": d.weekday, "opens_at": d.starts_at, "closes_at": d.ends_at}
                for d in days
            ],
        )
    return get_opening_hours(conn, scope=scope, store_id=store_id)


def get_settings(conn: Connection, *, scope: StoreScope, store_id: int) -> SettingsOut:
    """The store's workflow settings (defaults until changed)."""
    scope.check(store_id)
    s = store_settings.c
    row = conn.execute(select(store_settings).where(scope.where(store_settings), s.store_id == store_id)).first()
    if row is None:
        return SettingsOut(
            store_id=store_id, auto_propose_critical=False, slot_step_minutes=30, booking_horizon_days=21
        )
    return SettingsOut(**{k: row._mapping[k] for k in SettingsOut.model_fields})


def update_settings(conn: Connection, *, scope: StoreScope, store_id: int, body: SettingsPatch) -> SettingsOut:
    """Change some of the store's settings."""
    scope.check(store_id)
    changes = body.model_dump(exclude_none=True)
    if changes:
        statement = pg_insert(store_settings).values(store_id=store_id, **changes)
        conn.execute(statement.on_conflict_do_update(index_elements=[store_settings.c.store_id], set_=changes))
    return get_settings(conn, scope=scope, store_id=store_id)


# --- operations catalog ---------------------------------------------------------------------------


def list_operations(
    conn: Connection, *, mode: str | None, dtc: str | None, cursor: str | None, limit: int
) -> Page[OperationOut]:
    """The catalog of service operations (shared by all stores), by op code; filter by alert mode or DTC."""
    o = service_operations.c
    query = select(service_operations)
    if mode is not None:
        query = query.where(o.modes.contains([mode]))
    if dtc is not None:
        query = query.where(o.dtcs.contains([dtc.upper()]))
    after = decode_cursor(cursor, 1)
    if after is not None:
        query = query.where(o.op_code > str(after[0]))
    rows = conn.execute(query.order_by(o.op_code).limit(limit + 1)).all()
    items = [OperationOut(**{k: r._mapping[k] for k in OperationOut.model_fields}) for r in rows[:limit]]
    return Page[OperationOut](
        items=items, next_cursor=encode_cursor([rows[limit - 1].op_code]) if len(rows) > limit else None
    )


# --- parts stock ----------------------------------------------------------------------------------


def list_stock(
    conn: Connection, *, scope: StoreScope, store_id: int, part_no: str | None, cursor: str | None, limit: int
) -> Page[StockOut]:
    """A store's parts stock by part number."""
    scope.check(store_id)
    p = part_stock.c
    query = _stock_query(scope).where(p.store_id == store_id)
    if part_no is not None:
        query = query.where(p.part_no == part_no)
    after = decode_cursor(cursor, 1)
    if after is not None:
        query = query.where(p.part_no > str(after[0]))
    rows = conn.execute(query.order_by(p.part_no).limit(limit + 1)).all()
    items = [StockOut(**dict(r._mapping)) for r in rows[:limit]]
    return Page[StockOut](
        items=items, next_cursor=encode_cursor([rows[limit - 1].part_no]) if len(rows) > limit else None
    )


def update_stock(conn: Connection, *, scope: StoreScope, store_id: int, body: StockUpdate) -> list[StockOut]:
    """Set on-hand and incoming figures of some parts (the WMS's truth); reservations are kept.

    Raises Invalid for an unknown part, Conflict (409 stock_below_reserved) if the new figures would
    not cover what confirmed bookings have reserved.
    """
    scope.check(store_id)
    known = set(conn.scalars(select(parts.c.part_no).where(parts.c.part_no.in_([i.part_no for i in body.items]))))
    unknown = sorted({i.part_no for i in body.items} - known)
    if unknown:
        raise Invalid("unknown part numbers", details={"part_nos": unknown})
    rows = [{"store_id": store_id, **item.model_dump()} for item in sorted(body.items, key=lambda i: i.part_no)]
    statement = pg_insert(part_stock).values(rows)
    excluded = statement.excluded
    upsert = statement.on_conflict_do_update(
        index_elements=[part_stock.c.store_id, part_stock.c.part_no],
        set_={"on_hand": excluded.on_hand, "incoming_qty": excluded.incoming_qty, "incoming_on": excluded.incoming_on},
    )
    try:
        with conn.begin_nested():
            conn.execute(upsert)
    except IntegrityError as exc:
        if isinstance(exc.orig, CheckViolation):
            raise StockBelowReserved("the new stock would not cover the parts reserved for confirmed bookings") from exc
        raise
    p = part_stock.c
    query = _stock_query(scope).where(tuple_(p.store_id, p.part_no).in_([(store_id, r["part_no"]) for r in rows]))
    return [StockOut(**dict(r._mapping)) for r in conn.execute(query.order_by(p.part_no))]


def _cursor_id(after: list[Any]) -> int:
    try:
        return int(after[0])
    except (TypeError, ValueError) as exc:
        raise Invalid("the cursor is not valid") from exc


class StockBelowReserved(Conflict):
    code = "stock_below_reserved"


def _stock_query(scope: StoreScope) -> Any:
    p = part_stock.c
    return (
        select(p.store_id, p.part_no, parts.c.name_en, parts.c.name_zh, p.on_hand, p.reserved,
               (p.on_hand - p.reserved).label("available"), p.incoming_qty, p.incoming_on)
        .join_from(part_stock, parts, parts.c.part_no == p.part_no)
        .where(scope.where(part_stock))
    )  # fmt: skip
