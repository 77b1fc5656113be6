"""Dongles of a store: provision one for a vehicle (secret shown once), revoke, list.

Credentials come from store/fleet.py (only the secret's `$7$` hash is stored). Ingest refuses a
revoked device once its device directory reloads (INGEST_DEVICE_REFRESH_S, 30 s by default); the
broker learns or forgets its login when `pitcall broker acl --watch` rewrites the password file (seconds).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, select

from api.errors import Conflict, Invalid
from api.pagination import Page, decode_cursor, encode_cursor
from api.tenancy import StoreScope
from api.vehicles.schemas import DeviceOut, ProvisionedOut
from store import fleet
from store.tables import customers, devices, vehicles

DEVICE_ID_PREFIX = "pc-"


def issue_device_id() -> str:
    """Return a fresh device id that fits an MQTT topic."""
    return DEVICE_ID_PREFIX + secrets.token_hex(6)


def _listing(scope: StoreScope) -> Select[Any]:
    return (
        select(devices, vehicles.c.vin)
        .join(vehicles, vehicles.c.id == devices.c.vehicle_id)
        .where(scope.where(devices))
    )


def _device(conn: Connection, scope: StoreScope, device_id: str) -> DeviceOut:
    row = conn.execute(_listing(scope).where(devices.c.device_id == device_id)).one()
    return DeviceOut.model_validate(dict(row._mapping))


def _check_provisionable(conn: Connection, vehicle: Any) -> None:
    active = conn.scalar(
        select(devices.c.device_id).where(devices.c.vehicle_id == vehicle.id, devices.c.state == "active").limit(1)
    )
    if active is not None:
        raise Conflict(
            f"vehicle {vehicle.id} has an active device {active}: revoke it before provisioning another",
            details={"device_id": active},
        )
    if vehicle.customer_id is not None:
        consent = conn.scalar(select(customers.c.consent_telematics).where(customers.c.id == vehicle.customer_id))
        if not consent:
            raise Conflict(
                "the vehicle's owner has not consented to telematics",
                details={"customer_id": vehicle.customer_id},
            )


def provision(conn: Connection, *, scope: StoreScope, vehicle_id: int, device_id: str | None) -> ProvisionedOut:
    """Bind a new active device to the vehicle and return its one-time secret.

    Refused with 409 while the vehicle has an active device, when its owner has not consented to
    telematics, or when the device id is taken.
    """
    vehicle = scope.get(conn, vehicles, vehicle_id, what="vehicle", lock=True)
    _check_provisionable(conn, vehicle)
    try:
        issued = fleet.provision_device(conn, device_id=device_id or issue_device_id(), vin=vehicle.vin)
    except fleet.ConflictError as exc:
        raise Conflict(str(exc), details={"device_id": device_id}) from exc
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    out = _device(conn, scope, issued.device_id)
    return ProvisionedOut(**out.model_dump(), secret=issued.secret, mqtt_username=issued.device_id)


def revoke(conn: Connection, *, scope: StoreScope, device_id: str, now: datetime) -> DeviceOut:
    """Revoke a device; revoking a revoked device changes nothing (its first revocation time stays)."""
    device = scope.get(conn, devices, device_id, what="device", lock=True)
    if device.state != "revoked":
        fleet.revoke_device(conn, device_id=device_id, now=now)
    return _device(conn, scope, device_id)


def list_devices(
    conn: Connection,
    *,
    scope: StoreScope,
    state: str | None,
    vehicle_id: int | None,
    cursor: str | None,
    limit: int,
) -> Page[DeviceOut]:
    """Devices in scope ordered by id."""
    query = _listing(scope)
    if state is not None:
        query = query.where(devices.c.state == state)
    if vehicle_id is not None:
        query = query.where(devices.c.vehicle_id == vehicle_id)
    after = decode_cursor(cursor, 1)
    if after is not None:
        query = query.where(devices.c.device_id > str(after[0]))
    rows = conn.execute(query.order_by(devices.c.device_id).limit(limit + 1)).all()
    next_cursor = encode_cursor([rows[limit - 1].device_id]) if len(rows) > limit else None
    return Page[DeviceOut](
        items=[DeviceOut.model_validate(dict(r._mapping)) for r in rows[:limit]], next_cursor=next_cursor
    )
