"""Customers of a store: list and search, create, read with their vehicles, change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from api.customers.rules import Channel, ContactError, check_reachable, phone_digits
from api.customers.schemas import CustomerDetail, CustomerIn, CustomerOut, CustomerPatch, VehicleBrief
from api.errors import Invalid
from api.pagination import Page, decode_cursor, encode_cursor
from api.tenancy import StoreScope
from api.vehicles.service import ACTIVE_DEVICE
from store import fleet
from store.tables import customers, devices, vehicles

NOT_NULL = ("name", "preferred_language", "preferred_channel", "consent_proactive_contact", "consent_telematics")


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _out(row: Any) -> CustomerOut:
    return CustomerOut.model_validate(dict(row._mapping))


def _reachable(values: dict[str, Any]) -> None:
    try:
        check_reachable(
            channel=Channel(values["preferred_channel"]),
            phone=values.get("phone"),
            email=values.get("email"),
            wechat_id=values.get("wechat_id"),
        )
    except ContactError as exc:
        raise Invalid(str(exc)) from exc


def list_customers(
    conn: Connection,
    *,
    scope: StoreScope,
    q: str | None,
    store_id: int | None,
    consent_proactive_contact: bool | None,
    cursor: str | None,
    limit: int,
) -> Page[CustomerOut]:
    """Customers in scope by id; `q` matches part of the name, or of the phone number's digits."""
    query = select(customers).where(scope.where(customers))
    if q and q.strip():
        matches = [customers.c.name.ilike(_like(q.strip()))]
        digits = phone_digits(q)
        if digits:
            matches.append(func.regexp_replace(customers.c.phone, r"\D", "", "g").like(_like(digits)))
        query = query.where(or_(*matches))
    if store_id is not None:
        query = query.where(customers.c.store_id == store_id)
    if consent_proactive_contact is not None:
        query = query.where(customers.c.consent_proactive_contact == consent_proactive_contact)
    after = decode_cursor(cursor, 1)
    if after is not None:
        query = query.where(customers.c.id > int(after[0]))
    rows = conn.execute(query.order_by(customers.c.id).limit(limit + 1)).all()
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return Page[CustomerOut](items=[_out(r) for r in rows[:limit]], next_cursor=next_cursor)


def get_customer(conn: Connection, *, scope: StoreScope, customer_id: int) -> CustomerDetail:
    """One customer in scope with their vehicles."""
    row = scope.get(conn, customers, customer_id, what="customer")
    cars = conn.execute(
        select(vehicles.c.id, vehicles.c.vin, vehicles.c.make, vehicles.c.model, vehicles.c.year, ACTIVE_DEVICE)
        .where(vehicles.c.customer_id == customer_id, scope.where(vehicles))
        .order_by(vehicles.c.id)
    ).all()
    return CustomerDetail(
        **_out(row).model_dump(), vehicles=[VehicleBrief.model_validate(dict(c._mapping)) for c in cars]
    )


def create_customer(conn: Connection, *, scope: StoreScope, body: CustomerIn) -> CustomerDetail:
    """Create a customer in a store; their preferred channel must have a contact detail."""
    values = body.model_dump(exclude={"store_id"}, mode="json")
    values["store_id"] = scope.single_store(body.store_id)
    _reachable(values)
    customer_id = conn.scalar(insert(customers).values(**values).returning(customers.c.id))
    return get_customer(conn, scope=scope, customer_id=int(customer_id))


def update_customer(
    conn: Connection, *, scope: StoreScope, customer_id: int, body: CustomerPatch, now: datetime
) -> CustomerDetail:
    """Change the fields sent; the result must still reach the customer on their preferred channel.

    Withdrawing consent for telematics revokes the active devices of the customer's vehicles.
    """
    current = scope.get(conn, customers, customer_id, what="customer", lock=True)
    changes = body.model_dump(include=body.model_fields_set, mode="json")
    for field in NOT_NULL:
        if field in changes and changes[field] is None:
            raise Invalid(f"{field} cannot be null")
    _reachable({**dict(current._mapping), **changes})
    if changes:
        conn.execute(update(customers).where(customers.c.id == customer_id).values(**changes))
    if current.consent_telematics and changes.get("consent_telematics") is False:
        _revoke_devices_of(conn, customer_id=customer_id, now=now)
    return get_customer(conn, scope=scope, customer_id=customer_id)


def _revoke_devices_of(conn: Connection, *, customer_id: int, now: datetime) -> None:
    """Stop telematics for a customer who withdrew consent: revoke the active devices of their cars."""
    active = conn.scalars(
        select(devices.c.device_id)
        .join(vehicles, vehicles.c.id == devices.c.vehicle_id)
        .where(vehicles.c.customer_id == customer_id, devices.c.state == "active")
    ).all()
    for device_id in active:
        fleet.revoke_device(conn, device_id=device_id, now=now)
