"""Dealers, stores, vehicles and devices: the registry that ingest checks messages against.

Functions take a SQLAlchemy Connection and never commit: the caller's unit of work does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select, update

from store.secrets import hash_secret, new_secret
from store.tables import dealer_groups, devices, stores, vehicles
from wire.topics import DEVICE_ID_PATTERN, SERVICE_NAME_PREFIX, is_reserved_name


class FleetError(Exception):
    """Base of registry errors."""


class NotFoundError(FleetError):
    """A store, vehicle or device that does not exist."""


class ConflictError(FleetError):
    """A device id or VIN that is already taken."""


@dataclass(frozen=True, slots=True)
class ProvisionedDevice:
    device_id: str
    vehicle_id: int
    vin: str
    secret: str  # shown once to whoever provisions the dongle; only its hash is stored


def ensure_store(
    conn: Connection, *, group_name: str, store_code: str, store_name: str, timezone: str = "Asia/Shanghai"
) -> int:
    """Return the id of the store with this code, creating it (and its group) if missing."""
    store_id = conn.scalar(select(stores.c.id).where(stores.c.code == store_code))
    if store_id is not None:
        return int(store_id)
    group_id = conn.scalar(select(dealer_groups.c.id).where(dealer_groups.c.name == group_name))
    if group_id is None:
        group_id = conn.scalar(insert(dealer_groups).values(name=group_name).returning(dealer_groups.c.id))
    new_id = conn.scalar(
        insert(stores)
        .values(group_id=group_id, code=store_code, name=store_name, timezone=timezone)
        .returning(stores.c.id)
    )
    return int(new_id)


def add_vehicle(
    conn: Connection, *, store_id: int, vin: str, make: str, model: str, year: int, engine: str = ""
) -> int:
    """Register a vehicle; raise ConflictError if the VIN is registered already."""
    if conn.scalar(select(vehicles.c.id).where(vehicles.c.vin == vin)) is not None:
        raise ConflictError(f"vehicle {vin} is registered already")
    vehicle_id = conn.scalar(
        insert(vehicles)
        .values(store_id=store_id, vin=vin, make=make, model=model, year=year, engine=engine)
        .returning(vehicles.c.id)
    )
    return int(vehicle_id)


def provision_device(conn: Connection, *, device_id: str, vin: str, secret: str | None = None) -> ProvisionedDevice:
    """Create an active device bound to the vehicle with this VIN and return its one-time secret.

    Raises NotFoundError if no vehicle has the VIN, ConflictError if the device id exists, and
    ValueError if the device id cannot be used in an MQTT topic or is reserved for pitcall's services
    (it would log in to the broker as one of them).
    """
    if not DEVICE_ID_PATTERN.match(device_id):
        raise ValueError(f"device id {device_id!r} must match {DEVICE_ID_PATTERN.pattern}")
    if is_reserved_name(device_id):
        raise ValueError(
            f"device id {device_id!r} is reserved: ids starting with {SERVICE_NAME_PREFIX!r} are pitcall's services"
        )
    vehicle = conn.execute(select(vehicles.c.id, vehicles.c.store_id).where(vehicles.c.vin == vin)).first()
    if vehicle is None:
        raise NotFoundError(f"no vehicle with VIN {vin}")
    if conn.scalar(select(devices.c.device_id).where(devices.c.device_id == device_id)) is not None:
        raise ConflictError(f"device {device_id} exists already")
    secret = secret or new_secret()
    conn.execute(
        insert(devices).values(
            device_id=device_id,
            store_id=vehicle.store_id,
            vehicle_id=vehicle.id,
            secret_hash=hash_secret(secret),
            state="active",
        )
    )
    return ProvisionedDevice(device_id=device_id, vehicle_id=vehicle.id, vin=vin, secret=secret)


def revoke_device(conn: Connection, *, device_id: str, now: datetime | None = None) -> None:
    """Mark a device revoked: ingest dead-letters its messages and the broker files drop it."""
    result = conn.execute(
        update(devices)
        .where(devices.c.device_id == device_id)
        .values(state="revoked", revoked_at=now or datetime.now(UTC))
    )
    if result.rowcount == 0:
        raise NotFoundError(f"no device {device_id}")
