"""Work order routes: check in from a booking or a walk-in, list, read, move, record facts and parts.

Creating, moving and recording are for the workshop (manager, advisor, technician, group admin);
technicians move only into diagnosis, repair and quality check and may not set the technician or the
amount. Every role, integrations included, may read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.db import Db
from api.deps import Anyone, Scope, Workshop
from api.errors import ERROR_RESPONSES
from api.pagination import Page
from api.work_orders import parts, service, transitions
from api.work_orders.schemas import (
    PartUseIn,
    TransitionIn,
    WalkInIn,
    WorkOrderDetail,
    WorkOrderMoved,
    WorkOrderOut,
    WorkOrderPatch,
)
from api.work_orders.states import WorkOrderState

router = APIRouter(tags=["work-orders"], responses=ERROR_RESPONSES)
BookingId = Annotated[int, Path(ge=1, le=2**63 - 1)]
WorkOrderId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post(
    "/bookings/{booking_id}/work-order",
    response_model=WorkOrderDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Check in a booked car",
)
def create_from_booking(booking_id: BookingId, db: Db, principal: Workshop, scope: Scope) -> WorkOrderDetail:
    """Open the booking's work order with its vehicle, operation, technician, alert evidence and reserved parts.

    The booking goes to in_service. One work order per booking: a second call answers 409
    `work_order_exists` with `details.work_order_id`.
    """
    return service.create_from_booking(db, scope=scope, principal=principal, booking_id=booking_id)


@router.post("/work-orders", response_model=WorkOrderDetail, status_code=status.HTTP_201_CREATED, summary="Walk-in")
def create_walk_in(body: WalkInIn, db: Db, principal: Workshop, scope: Scope) -> WorkOrderDetail:
    """Open a work order for a car that came without a booking."""
    return service.create_walk_in(db, scope=scope, principal=principal, body=body)


@router.get("/work-orders", response_model=Page[WorkOrderOut], summary="List work orders")
def list_work_orders(
    db: Db,
    _: Anyone,
    scope: Scope,
    state: Annotated[list[WorkOrderState] | None, Query(description="default: every state")] = None,
    technician_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    vehicle_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[WorkOrderOut]:
    """The work orders of the caller's stores, newest first."""
    return service.list_work_orders(
        db,
        scope=scope,
        states=state or [],
        technician_id=technician_id,
        vehicle_id=vehicle_id,
        cursor=cursor,
        limit=limit,
    )


@router.get("/work-orders/{work_order_id}", response_model=WorkOrderDetail, summary="One work order")
def get_work_order(work_order_id: WorkOrderId, db: Db, _: Anyone, scope: Scope) -> WorkOrderDetail:
    """A work order with its evidence, history (who/when), planned and used parts, and survey result."""
    return service.get_detail(db, scope=scope, work_order_id=work_order_id)


@router.post("/work-orders/{work_order_id}/transitions", response_model=WorkOrderMoved, summary="Move a work order")
def move(work_order_id: WorkOrderId, body: TransitionIn, db: Db, principal: Workshop, scope: Scope) -> WorkOrderMoved:
    """Move to the next state: 409 `invalid_transition` lists the allowed ones, 422 `incomplete_transition`
    names what is missing (findings, labour_hours, alert_outcome, a reason for cancelling).

    Closing resolves the alert with the outcome, completes the booking, releases unused parts and
    sends the survey: `survey_link` is shown in this response only.
    """
    return transitions.move(
        db, scope=scope, principal=principal, work_order_id=work_order_id, to=body.to, note=body.note
    )


@router.patch("/work-orders/{work_order_id}", response_model=WorkOrderDetail, summary="Record facts")
def update_work_order(
    work_order_id: WorkOrderId, body: WorkOrderPatch, db: Db, principal: Workshop, scope: Scope
) -> WorkOrderDetail:
    """Set findings, labour hours, the alert's outcome, the technician or the amount; 409 once final."""
    return service.update_facts(db, scope=scope, principal=principal, work_order_id=work_order_id, body=body)


@router.post("/work-orders/{work_order_id}/parts", response_model=WorkOrderDetail, summary="Record a fitted part")
def use_part(work_order_id: WorkOrderId, body: PartUseIn, db: Db, _: Workshop, scope: Scope) -> WorkOrderDetail:
    """Consume the booking's reservation of the part, or free stock; 409 `not_enough_stock` if short."""
    return parts.use_part(db, scope=scope, work_order_id=work_order_id, body=body)
