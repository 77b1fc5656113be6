"""Alert review routes: the queue, one alert with its evidence, acknowledge and dismiss.

Booking an alert: GET /alerts/{id}/slots, then POST /bookings with `alert_id`; POST /alerts/{id}/proposal
proposes one (api/bookings).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.alerts import service
from api.alerts.schemas import AlertDetail, AlertOut, DismissIn, NoteIn
from api.db import Db
from api.deps import Anyone, Scope, Staff
from api.errors import ERROR_RESPONSES
from api.pagination import Page
from predict.alerts import AlertState
from predict.catalog import FailureMode
from predict.dtc_kb import Severity

router = APIRouter(tags=["alerts"], responses=ERROR_RESPONSES)
LIVE = [AlertState.OPEN, AlertState.ACKNOWLEDGED, AlertState.BOOKED]


@router.get("/alerts", response_model=Page[AlertOut])
def list_alerts(
    db: Db,
    _: Anyone,
    scope: Scope,
    state: Annotated[
        list[AlertState], Query(description="default: the queue (open, acknowledged, booked); `watch`: the watch list")
    ] = LIVE,
    mode: Annotated[list[FailureMode] | None, Query()] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    vehicle_id: int | None = None,
    store_id: int | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[AlertOut]:
    """The alert queue: most urgent first (severity, estimated days to failure, confidence)."""
    return service.list_alerts(
        db,
        scope=scope,
        states=state,
        modes=[m.value for m in mode or []],
        severities=[s.value for s in severity or []],
        vehicle_id=vehicle_id,
        store_id=store_id,
        cursor=cursor,
        limit=limit,
    )


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
def get_alert(alert_id: int, db: Db, _: Anyone, scope: Scope) -> AlertDetail:
    """One alert: evidence, vehicle, customer and consent, recommended operation, history, recent DTCs."""
    return service.get_detail(db, scope=scope, alert_id=alert_id)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertDetail)
def acknowledge(alert_id: int, db: Db, principal: Staff, scope: Scope, body: NoteIn | None = None) -> AlertDetail:
    """Mark the alert as seen by the store (it stays live until booked, resolved or dismissed)."""
    note = body.note if body else None
    return service.move(
        db, scope=scope, principal=principal, alert_id=alert_id, to=AlertState.ACKNOWLEDGED, reason=note
    )


@router.post("/alerts/{alert_id}/queue", response_model=AlertDetail)
def to_queue(alert_id: int, db: Db, principal: Staff, scope: Scope, body: NoteIn | None = None) -> AlertDetail:
    """Take an alert from the watch list (its mode is held back for poor live precision: GET
    /prediction/status) into the queue: the store judged this one worth acting on."""
    note = body.note if body else None
    return service.move(db, scope=scope, principal=principal, alert_id=alert_id, to=AlertState.OPEN, reason=note)


@router.post("/alerts/{alert_id}/dismiss", response_model=AlertDetail)
def dismiss(alert_id: int, body: DismissIn, db: Db, principal: Staff, scope: Scope) -> AlertDetail:
    """Close the alert without service; the reason is kept as a training label."""
    return service.move(
        db, scope=scope, principal=principal, alert_id=alert_id, to=AlertState.DISMISSED, reason=body.reason
    )
