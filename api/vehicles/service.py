"""Vehicles of a store: list and search, register, read, change and bind to a customer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, func, select, update
from sqlalchemy.exc import IntegrityError

from api.errors import Conflict, Invalid, NotFound
from api.pagination import Page, decode_cursor, encode_cursor
from api.tenancy import StoreScope
from api.vehicles.schemas import VehicleIn, VehicleOut, VehiclePatch
from store import fleet
from store.tables import customers, devices, vehicles

ACTIVE_DEVICE = (
    select(devices.c.device_id)
    .where(devices.c.vehicle_id == vehicles.c.id, devices.c.state == "active")
    .order_by(devices.c.created_at.desc())
    .limit(1)
    .scalar_subquery()
    .label("device_id")
)


def _listing(scope: StoreScope) -> Select[Any]:
    return select(vehicles, ACTIVE_DEVICE).where(scope.where(vehicles))


def _out(row: Any) -> VehicleOut:
    return VehicleOut.model_validate(dict(row._mapping))


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_vehicles(
    conn: Connection,
    *,
    scope: StoreScope,
    vin: str | None,
    customer_id: int | None,
    store_id: int | None,
    make: str | None,
    cursor: str | None,
    limit: int,
) -> Page[VehicleOut]:
    """Vehicles in scope by id; `vin` matches any part of the VIN, case-insensitively."""
    query = _listing(scope)
    if vin:
        query = query.where(vehicles.c.vin.like(_like(vin.strip().upper())))
    if customer_id is not None:
        query = query.where(vehicles.c.customer_id == customer_id)
    if store_id is not None:
        query = query.where(vehicles.c.store_id == store_id)
    if make:
        query = query.where(func.lower(vehicles.c.make) == make.strip().lower())
    after = decode_cursor(cursor, 1)
    if after is not None:
        query = query.where(vehicles.c.id > int(after[0]))
    rows = conn.execute(query.order_by(vehicles.c.id).limit(limit + 1)).all()
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return Page[VehicleOut](items=[_out(r) for r in rows[:limit]], next_cursor=next_cursor)


def get_vehicle(conn: Connection, *, scope: StoreScope, vehicle_id: int) -> VehicleOut:
    """One vehicle in scope (404 for another store's)."""
    row = conn.execute(_listing(scope).where(vehicles.c.id == vehicle_id)).first()
    if row is None:
        raise NotFound(f"no vehicle {vehicle_id}")
    return _out(row)


def _check_owner(conn: Connection, *, scope: StoreScope, customer_id: int, store_id: int) -> None:
    customer = scope.get(conn, customers, customer_id, what="customer")
    if customer.store_id != store_id:
        raise Invalid(
            "a vehicle can only be bound to a customer of its own store",
            details={"customer_store_id": customer.store_id, "vehicle_store_id": store_id},
        )


def register_vehicle(conn: Connection, *, scope: StoreScope, body: VehicleIn) -> VehicleOut:
    """Register a vehicle in a store; 409 if the VIN is registered already (in any store)."""
    store_id = scope.single_store(body.store_id)
    if body.customer_id is not None:
        _check_owner(conn, scope=scope, customer_id=body.customer_id, store_id=store_id)
    try:
        vehicle_id = fleet.add_vehicle(
            conn, store_id=store_id, vin=body.vin, make=body.make, model=body.model, year=body.year, engine=body.engine
        )
    except (fleet.ConflictError, IntegrityError) as exc:  # IntegrityError: a concurrent registration won
        if isinstance(exc, IntegrityError) and "uq_vehicles_vin" not in str(exc.orig):
            raise
        raise Conflict(f"VIN {body.vin} is registered already", details={"vin": body.vin}) from exc
    if body.customer_id is not None:
        conn.execute(update(vehicles).where(vehicles.c.id == vehicle_id).values(customer_id=body.customer_id))
    return get_vehicle(conn, scope=scope, vehicle_id=vehicle_id)


def update_vehicle(conn: Connection, *, scope: StoreScope, vehicle_id: int, body: VehiclePatch) -> VehicleOut:
    """Change the fields sent; binding checks the customer belongs to the vehicle's store."""
    vehicle = scope.get(conn, vehicles, vehicle_id, what="vehicle", lock=True)
    changes = body.model_dump(include=body.model_fields_set)
    for required in ("make", "model", "year", "engine"):
        if required in changes and changes[required] is None:
            raise Invalid(f"{required} cannot be null")
    if changes.get("customer_id") is not None:
        _check_owner(conn, scope=scope, customer_id=changes["customer_id"], store_id=vehicle.store_id)
    if changes:
        conn.execute(update(vehicles).where(vehicles.c.id == vehicle_id).values(**changes))
    return get_vehicle(conn, scope=scope, vehicle_id=vehicle_id)
