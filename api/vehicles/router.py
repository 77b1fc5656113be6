"""Vehicle routes: registry, telemetry for dealership modules (latest, series, DTCs, device status), devices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from api.db import Db
from api.deps import Anyone, Managers, Scope, Staff
from api.errors import ERROR_RESPONSES
from api.pagination import Page
from api.vehicles import devices, service, telemetry
from api.vehicles.rules import Bucket
from api.vehicles.schemas import (
    DeviceOut,
    DeviceStatusOut,
    DtcEventOut,
    LatestOut,
    ProvisionedOut,
    ProvisionIn,
    SeriesOut,
    VehicleIn,
    VehicleOut,
    VehiclePatch,
)

router = APIRouter(tags=["vehicles"], responses=ERROR_RESPONSES)
Limit = Annotated[int, Query(ge=1, le=200)]


@router.get("/vehicles", response_model=Page[VehicleOut], summary="List and search vehicles")
def list_vehicles(
    db: Db,
    _: Anyone,
    scope: Scope,
    vin: Annotated[str | None, Query(max_length=17, description="any part of the VIN, case-insensitive")] = None,
    customer_id: int | None = None,
    store_id: int | None = None,
    make: Annotated[str | None, Query(max_length=64)] = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[VehicleOut]:
    """Vehicles of the caller's stores in registration order, filtered and searched by VIN."""
    return service.list_vehicles(
        db, scope=scope, vin=vin, customer_id=customer_id, store_id=store_id, make=make, cursor=cursor, limit=limit
    )


@router.post("/vehicles", response_model=VehicleOut, status_code=201, summary="Register a vehicle")
def register_vehicle(body: VehicleIn, db: Db, _: Staff, scope: Scope) -> VehicleOut:
    """Register a car by VIN (17 characters, no I/O/Q), optionally bound to a customer of the same store."""
    return service.register_vehicle(db, scope=scope, body=body)


@router.get("/vehicles/{vehicle_id}", response_model=VehicleOut, summary="Read a vehicle")
def get_vehicle(vehicle_id: int, db: Db, _: Anyone, scope: Scope) -> VehicleOut:
    """One vehicle with its active device."""
    return service.get_vehicle(db, scope=scope, vehicle_id=vehicle_id)


@router.patch("/vehicles/{vehicle_id}", response_model=VehicleOut, summary="Change a vehicle or its owner")
def update_vehicle(vehicle_id: int, body: VehiclePatch, db: Db, _: Staff, scope: Scope) -> VehicleOut:
    """Change make/model/year/engine or bind the vehicle to a customer of its store (null unbinds)."""
    return service.update_vehicle(db, scope=scope, vehicle_id=vehicle_id, body=body)


@router.get("/vehicles/{vehicle_id}/latest", response_model=LatestOut, summary="Latest value of each PID")
def latest(
    vehicle_id: int,
    db: Db,
    _: Anyone,
    scope: Scope,
    lookback_hours: Annotated[int, Query(ge=1, le=720, description="how far back to look for samples")] = 168,
) -> LatestOut:
    """The newest value of every PID among the vehicle's newest samples (at most `lookback_hours` old)."""
    return telemetry.latest(
        db, scope=scope, vehicle_id=vehicle_id, now=datetime.now(UTC), lookback=timedelta(hours=lookback_hours)
    )


@router.get("/vehicles/{vehicle_id}/series", response_model=SeriesOut, summary="One PID over time, bucketed")
def series(
    vehicle_id: int,
    db: Db,
    _: Anyone,
    scope: Scope,
    pid: Annotated[str, Query(max_length=64, description="python-OBD command name", examples=["COOLANT_TEMP"])],
    start: Annotated[AwareDatetime, Query(alias="from", examples=["2026-11-01T00:00:00+08:00"])],
    end: Annotated[AwareDatetime, Query(alias="to", examples=["2026-12-01T00:00:00+08:00"])],
    bucket: Bucket = Bucket.HOUR,
) -> SeriesOut:
    """Per-bucket avg/min/max/count of one PID over [from, to).

    Buckets of 1h or more come from the hourly rollups (range widened to whole hours; days and weeks
    follow the store's time zone); 1m/5m/15m come from the raw samples, for ranges of at most 7 days.
    """
    return telemetry.series(db, scope=scope, vehicle_id=vehicle_id, pid=pid, start=start, end=end, bucket=bucket)


@router.get("/vehicles/{vehicle_id}/dtcs", response_model=Page[DtcEventOut], summary="DTC history")
def dtc_history(
    vehicle_id: int,
    db: Db,
    _: Anyone,
    scope: Scope,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[DtcEventOut]:
    """The diagnostic trouble codes the vehicle reported, newest first."""
    return telemetry.dtc_history(
        db, scope=scope, vehicle_id=vehicle_id, start=start, end=end, cursor=cursor, limit=limit
    )


@router.get("/vehicles/{vehicle_id}/device", response_model=DeviceStatusOut, summary="Device status")
def device_status(vehicle_id: int, db: Db, _: Anyone, scope: Scope) -> DeviceStatusOut:
    """The vehicle's dongle (the active one, else the last revoked): online, last seen, buffer, agent."""
    return telemetry.device_of(db, scope=scope, vehicle_id=vehicle_id)


@router.post(
    "/vehicles/{vehicle_id}/devices", response_model=ProvisionedOut, status_code=201, summary="Provision a device"
)
def provision_device(
    vehicle_id: int, db: Db, _: Managers, scope: Scope, body: ProvisionIn | None = None
) -> ProvisionedOut:
    """Issue a device id and secret for the vehicle's dongle; the secret is shown only in this response.

    The broker accepts the login once `pitcall broker acl --watch` (the `broker-sync` service) has
    rewritten its password file, within seconds.
    """
    device_id = body.device_id if body else None
    return devices.provision(db, scope=scope, vehicle_id=vehicle_id, device_id=device_id)


@router.post("/devices/{device_id}/revoke", response_model=DeviceOut, summary="Revoke a device")
def revoke_device(device_id: str, db: Db, _: Managers, scope: Scope) -> DeviceOut:
    """Revoke a dongle: ingest refuses its messages within INGEST_DEVICE_REFRESH_S (30 s by default)."""
    return devices.revoke(db, scope=scope, device_id=device_id, now=datetime.now(UTC))


@router.get("/devices", response_model=Page[DeviceOut], summary="List devices")
def list_devices(
    db: Db,
    _: Managers,
    scope: Scope,
    state: Literal["active", "revoked"] | None = None,
    vehicle_id: int | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[DeviceOut]:
    """The dongles of the caller's stores by device id."""
    return devices.list_devices(db, scope=scope, state=state, vehicle_id=vehicle_id, cursor=cursor, limit=limit)
