"""Routes of the store profiles, the store dashboard and the bookings calendar (read-only, every role)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.dashboard import schedule, service
from api.dashboard.schemas import CalendarOut, DashboardOut, StoreOut
from api.db import Db
from api.deps import Anyone, Scope
from api.errors import ERROR_RESPONSES
from api.pagination import Page

router = APIRouter(tags=["dashboard"], responses=ERROR_RESPONSES)
StoreQuery = Annotated[int | None, Query(description="required for a group-wide caller; default: your only store")]


@router.get("/stores", response_model=Page[StoreOut], summary="My stores")
def list_stores(
    db: Db, _: Anyone, scope: Scope, cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> Page[StoreOut]:
    """The stores you may see, with time zone, opening hours and workflow settings."""
    return service.list_stores(db, scope=scope, cursor=cursor, limit=limit)


@router.get("/stores/{store_id}", response_model=StoreOut, summary="One store")
def get_store(store_id: int, db: Db, _: Anyone, scope: Scope) -> StoreOut:
    """One store: time zone, opening hours per weekday and workflow settings."""
    return service.get_store(db, scope=scope, store_id=store_id)


@router.get("/dashboard", response_model=DashboardOut, summary="Store dashboard")
def get_dashboard(
    db: Db,
    _: Anyone,
    scope: Scope,
    store_id: StoreQuery = None,
    week_of: Annotated[
        date | None, Query(description="any day of the ISO week (store's time zone); default: this week")
    ] = None,
) -> DashboardOut:
    """A week's alerts, proactive share of visits, lead time, technician utilisation and survey score,
    with the previous week for comparison, and the live alerts by mode and severity (docs/api/dashboard.md)."""
    return service.dashboard(db, scope=scope, store_id=store_id, week_of=week_of, now=datetime.now(UTC))


@router.get("/calendar", response_model=CalendarOut, summary="Bookings calendar")
def get_calendar(
    db: Db,
    _: Anyone,
    scope: Scope,
    starts_at: Annotated[datetime, Query(alias="from", description="aware, e.g. 2026-12-07T00:00:00+08:00")],
    ends_at: Annotated[datetime, Query(alias="to", description="aware; at most 31 days after from")],
    store_id: StoreQuery = None,
) -> CalendarOut:
    """The store's bays, technicians with skills and dated shifts, opening hours and bookings
    (proposed, confirmed, in service, completed) overlapping [from, to), times in the store's time zone."""
    return schedule.calendar(db, scope=scope, store_id=store_id, starts_at=starts_at, ends_at=ends_at)
