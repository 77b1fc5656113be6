"""Bodies of the booking routes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from api.bookings.lifecycle import BookingState


def _plausible(moment: datetime) -> datetime:
    if not 2000 <= moment.year <= 2100:
        raise ValueError("a time between the years 2000 and 2100")
    return moment


Moment = Annotated[AwareDatetime, AfterValidator(_plausible)]
"""An aware time a booking can plausibly be about (keeps date arithmetic away from year 1 and 9999)."""

_SLOT_EXAMPLE: dict[str, Any] = {
    "technician_id": 3,
    "technician_name": "S-A tech 1",
    "bay_id": 2,
    "bay_name": "bay 1",
    "starts_at": "2026-12-07T08:30:00+08:00",
    "ends_at": "2026-12-07T09:00:00+08:00",
}


class SlotsIn(BaseModel):
    op_code: str = Field(examples=["BAT-TEST-REPLACE"])
    vehicle_id: int = Field(examples=[17])
    earliest: Moment | None = Field(
        None, description="search from here (default: now)", examples=["2026-12-07T08:00:00+08:00"]
    )
    count: int = Field(5, ge=1, le=50)
    technician_id: int | None = Field(None, description="only this technician's slots")


class SlotOut(BaseModel):
    technician_id: int
    technician_name: str
    bay_id: int
    bay_name: str
    starts_at: datetime = Field(description="in the store's time zone")
    ends_at: datetime

    model_config = {"json_schema_extra": {"examples": [_SLOT_EXAMPLE]}}


class SlotsOut(BaseModel):
    store_id: int
    op_code: str
    labour_hours: float
    timezone: str = Field(examples=["Asia/Shanghai"])
    parts_ready_on: date | None = Field(
        description="first day every part is available; null if a part cannot be had (then no slots)"
    )
    slots: list[SlotOut]


class BookingIn(BaseModel):
    vehicle_id: int = Field(examples=[17])
    op_code: str = Field(examples=["BAT-TEST-REPLACE"])
    technician_id: int = Field(examples=[3])
    bay_id: int = Field(examples=[2])
    starts_at: Moment = Field(
        description="a slot's start; the end follows from the labour time", examples=["2026-12-07T08:30:00+08:00"]
    )
    alert_id: int | None = Field(None, description="the alert this booking serves; it moves to booked", examples=[41])
    note: str | None = Field(None, max_length=1000, examples=["customer prefers a morning slot"])


class CancelIn(BaseModel):
    reason: str = Field(min_length=3, max_length=500, examples=["customer went abroad; will call back"])


class ReservationOut(BaseModel):
    part_no: str
    qty: int
    available_on: date
    state: str


class BookingOut(BaseModel):
    id: int
    store_id: int
    vehicle_id: int
    alert_id: int | None
    op_code: str
    technician_id: int
    bay_id: int
    starts_at: datetime
    ends_at: datetime
    state: BookingState
    note: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    cancel_reason: str | None


class BookingDetail(BookingOut):
    reservations: list[ReservationOut]
