"""Booking routes: slot proposals, confirming a slot or a proposal, listing, cancelling.

409 codes: `slot_taken` (another booking holds the technician or bay; `details.proposals` has fresh
slots), `parts_unavailable`, `no_slot`, and `conflict` for a state that does not allow the move.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.bookings import commands, service
from api.bookings.errors import NoSlot
from api.bookings.lifecycle import BookingState
from api.bookings.proposals import propose_for_alert
from api.bookings.schemas import BookingDetail, BookingIn, BookingOut, CancelIn, Moment, SlotsIn, SlotsOut
from api.db import Db
from api.deps import Anyone, Scope, Staff
from api.errors import ERROR_RESPONSES
from api.pagination import Page
from store.tables import alerts

router = APIRouter(tags=["bookings"], responses=ERROR_RESPONSES)


@router.post("/bookings/slots", response_model=SlotsOut, summary="Propose the earliest slots")
def propose_slots(body: SlotsIn, db: Db, _: Anyone, scope: Scope) -> SlotsOut:
    """The earliest slots where a skilled technician on shift, a free bay and the parts meet.

    Searches the vehicle's store from `earliest` (or now) to the store's booking horizon; one slot
    per start time, in the store's time zone. No slots and `parts_ready_on: null` when a part cannot
    be had at all.
    """
    return service.search_slots(
        db,
        scope=scope,
        vehicle_id=body.vehicle_id,
        op_code=body.op_code,
        earliest=body.earliest,
        count=body.count,
        technician_id=body.technician_id,
    )


@router.get("/alerts/{alert_id}/slots", response_model=SlotsOut, summary="Propose slots for an alert")
def alert_slots(
    alert_id: int,
    db: Db,
    _: Anyone,
    scope: Scope,
    earliest: Moment | None = None,
    count: Annotated[int, Query(ge=1, le=50)] = 5,
) -> SlotsOut:
    """The earliest slots for the operation the alert recommends, for the alert's vehicle."""
    return service.search_alert_slots(db, scope=scope, alert_id=alert_id, earliest=earliest, count=count)


@router.post("/alerts/{alert_id}/proposal", response_model=BookingDetail, status_code=201, summary="Propose a booking")
def propose_booking(alert_id: int, db: Db, principal: Staff, scope: Scope) -> BookingDetail:
    """Create (or move) the alert's `proposed` booking at the earliest slot; it holds no capacity.

    Confirm it with POST /bookings/{id}/confirm. 409 `no_slot` if nothing fits in the horizon.
    """
    scope.get(db, alerts, alert_id, what="alert")
    booking_id = propose_for_alert(db, alert_id, actor=principal.actor)
    if booking_id is None:
        raise NoSlot("no slot fits within the store's booking horizon")
    return service.get_booking(db, scope=scope, booking_id=booking_id)


@router.post("/bookings", response_model=BookingDetail, status_code=201, summary="Confirm a slot")
def book(body: BookingIn, db: Db, principal: Staff, scope: Scope) -> BookingDetail:
    """Book a slot in one transaction: the booking, its part reservations, the alert to `booked`.

    Two advisors confirming the same slot at once: one gets 201, the other 409 `slot_taken`.
    """
    return commands.book(db, scope=scope, principal=principal, request=body)


@router.get("/bookings", response_model=Page[BookingOut], summary="List bookings")
def list_bookings(
    db: Db,
    _: Anyone,
    scope: Scope,
    starts_from: Annotated[Moment | None, Query(alias="from", description="starts at or after")] = None,
    starts_to: Annotated[Moment | None, Query(alias="to", description="starts before")] = None,
    technician_id: int | None = None,
    bay_id: int | None = None,
    vehicle_id: int | None = None,
    store_id: int | None = None,
    state: Annotated[list[BookingState] | None, Query()] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[BookingOut]:
    """Bookings of your stores by start time, filtered by period, technician, bay, vehicle, store and state."""
    return service.list_bookings(
        db,
        scope=scope,
        starts_from=starts_from,
        starts_to=starts_to,
        technician_id=technician_id,
        bay_id=bay_id,
        vehicle_id=vehicle_id,
        store_id=store_id,
        states=state or [],
        cursor=cursor,
        limit=limit,
    )


@router.get("/bookings/{booking_id}", response_model=BookingDetail, summary="One booking")
def get_booking(booking_id: int, db: Db, _: Anyone, scope: Scope) -> BookingDetail:
    """One booking with its part reservations."""
    return service.get_booking(db, scope=scope, booking_id=booking_id)


@router.post("/bookings/{booking_id}/confirm", response_model=BookingDetail, summary="Confirm a proposal")
def confirm(booking_id: int, db: Db, principal: Staff, scope: Scope) -> BookingDetail:
    """Confirm a `proposed` booking: same guarantees as POST /bookings (409 `slot_taken` if taken since)."""
    return commands.confirm_proposed(db, scope=scope, principal=principal, booking_id=booking_id)


@router.post("/bookings/{booking_id}/cancel", response_model=BookingDetail, summary="Cancel a booking")
def cancel(booking_id: int, body: CancelIn, db: Db, principal: Staff, scope: Scope) -> BookingDetail:
    """Cancel a proposed or confirmed booking: parts are released; its booked alert returns to acknowledged."""
    return commands.cancel(db, scope=scope, principal=principal, booking_id=booking_id, reason=body.reason)
