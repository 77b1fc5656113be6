"""Capacity routes: what a store can offer (technicians, shifts, bays, opening hours, settings, parts
stock) and the catalog of service operations. Reads: every role. Changes: service managers, advisors
and group admins; parts stock: service managers, group admins and integrations (the parts/WMS system).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.capacity import service
from api.capacity.schemas import (
    BayIn,
    BayOut,
    BayPatch,
    OpeningHoursOut,
    OperationOut,
    SettingsOut,
    SettingsPatch,
    StockOut,
    StockUpdate,
    TechnicianIn,
    TechnicianOut,
    TechnicianPatch,
    WeekIn,
)
from api.db import Db
from api.deps import Anyone, ManagersOrIntegration, Scope, Staff
from api.errors import ERROR_RESPONSES
from api.pagination import Page

router = APIRouter(tags=["capacity"], responses=ERROR_RESPONSES)
Limit = Annotated[int, Query(ge=1, le=200)]


@router.get("/stores/{store_id}/technicians", response_model=Page[TechnicianOut], summary="List technicians")
def list_technicians(
    store_id: int,
    db: Db,
    _: Anyone,
    scope: Scope,
    skill: str | None = None,
    active: bool | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[TechnicianOut]:
    """A store's technicians with their skills and weekly shifts."""
    return service.list_technicians(
        db, scope=scope, store_id=store_id, skill=skill, active=active, cursor=cursor, limit=limit
    )


@router.post(
    "/stores/{store_id}/technicians", response_model=TechnicianOut, status_code=201, summary="Add a technician"
)
def create_technician(store_id: int, body: TechnicianIn, db: Db, _: Staff, scope: Scope) -> TechnicianOut:
    """Add a technician with skills (e.g. electrical, cooling) and weekly shifts in store-local time."""
    return service.create_technician(db, scope=scope, store_id=store_id, body=body)


@router.get("/technicians/{technician_id}", response_model=TechnicianOut, summary="One technician")
def get_technician(technician_id: int, db: Db, _: Anyone, scope: Scope) -> TechnicianOut:
    """A technician with skills and weekly shifts."""
    return service.get_technician(db, scope=scope, technician_id=technician_id)


@router.patch("/technicians/{technician_id}", response_model=TechnicianOut, summary="Change a technician")
def update_technician(technician_id: int, body: TechnicianPatch, db: Db, _: Staff, scope: Scope) -> TechnicianOut:
    """Rename, change skills or (de)activate; deactivating one with confirmed bookings ahead is a 409."""
    return service.update_technician(db, scope=scope, technician_id=technician_id, body=body)


@router.put("/technicians/{technician_id}/shifts", response_model=TechnicianOut, summary="Set weekly shifts")
def replace_shifts(technician_id: int, body: WeekIn, db: Db, _: Staff, scope: Scope) -> TechnicianOut:
    """Replace the technician's week: weekdays listed are worked, others are off."""
    return service.replace_shifts(db, scope=scope, technician_id=technician_id, days=body.days)


@router.get("/stores/{store_id}/bays", response_model=Page[BayOut], summary="List bays")
def list_bays(
    store_id: int, db: Db, _: Anyone, scope: Scope, cursor: str | None = None, limit: Limit = 50
) -> Page[BayOut]:
    """A store's service bays."""
    return service.list_bays(db, scope=scope, store_id=store_id, cursor=cursor, limit=limit)


@router.post("/stores/{store_id}/bays", response_model=BayOut, status_code=201, summary="Add a bay")
def create_bay(store_id: int, body: BayIn, db: Db, _: Staff, scope: Scope) -> BayOut:
    """Add a service bay; names are unique within a store (409 otherwise)."""
    return service.create_bay(db, scope=scope, store_id=store_id, body=body)


@router.patch("/bays/{bay_id}", response_model=BayOut, summary="Change a bay")
def update_bay(bay_id: int, body: BayPatch, db: Db, _: Staff, scope: Scope) -> BayOut:
    """Rename or (de)activate a bay; an inactive bay gets no new slots."""
    return service.update_bay(db, scope=scope, bay_id=bay_id, body=body)


@router.get("/stores/{store_id}/opening-hours", response_model=OpeningHoursOut, summary="Opening hours")
def get_opening_hours(store_id: int, db: Db, _: Anyone, scope: Scope) -> OpeningHoursOut:
    """The store's weekly opening hours, local time in the store's time zone."""
    return service.get_opening_hours(db, scope=scope, store_id=store_id)


@router.put("/stores/{store_id}/opening-hours", response_model=OpeningHoursOut, summary="Set opening hours")
def replace_opening_hours(store_id: int, body: WeekIn, db: Db, _: Staff, scope: Scope) -> OpeningHoursOut:
    """Replace the week's opening hours: weekdays not listed are closed."""
    return service.replace_opening_hours(db, scope=scope, store_id=store_id, days=body.days)


@router.get("/stores/{store_id}/settings", response_model=SettingsOut, summary="Store settings")
def get_settings(store_id: int, db: Db, _: Anyone, scope: Scope) -> SettingsOut:
    """Automatic proposals for critical alerts, the slot step and the booking horizon."""
    return service.get_settings(db, scope=scope, store_id=store_id)


@router.patch("/stores/{store_id}/settings", response_model=SettingsOut, summary="Change store settings")
def update_settings(store_id: int, body: SettingsPatch, db: Db, _: Staff, scope: Scope) -> SettingsOut:
    """Change some settings; fields left out keep their value."""
    return service.update_settings(db, scope=scope, store_id=store_id, body=body)


@router.get("/service-operations", response_model=Page[OperationOut], summary="Service operations")
def list_operations(
    db: Db,
    _: Anyone,
    mode: Annotated[str | None, Query(description="an alert's failure mode, e.g. battery")] = None,
    dtc: Annotated[str | None, Query(description="a DTC, e.g. P0301", max_length=5)] = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[OperationOut]:
    """The catalog of service operations: skill, labour hours, parts, and the modes and DTCs that map to it."""
    return service.list_operations(db, mode=mode, dtc=dtc, cursor=cursor, limit=limit)


@router.get("/stores/{store_id}/parts-stock", response_model=Page[StockOut], summary="Parts stock")
def list_stock(
    store_id: int,
    db: Db,
    _: Anyone,
    scope: Scope,
    part_no: str | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[StockOut]:
    """A store's parts: on hand, reserved by confirmed bookings, incoming and when."""
    return service.list_stock(db, scope=scope, store_id=store_id, part_no=part_no, cursor=cursor, limit=limit)


@router.put("/stores/{store_id}/parts-stock", response_model=list[StockOut], summary="Update parts stock")
def update_stock(store_id: int, body: StockUpdate, db: Db, _: ManagersOrIntegration, scope: Scope) -> list[StockOut]:
    """Set on-hand and incoming figures of the parts listed (the parts/WMS system's sync); reservations stay.

    409 `stock_below_reserved` if the figures would not cover what confirmed bookings reserved.
    """
    return service.update_stock(db, scope=scope, store_id=store_id, body=body)
