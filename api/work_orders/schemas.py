"""Bodies of the work order routes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.surveys.schemas import SurveyResultOut
from api.work_orders.states import AlertOutcome, WorkOrderState

MAX_INT = 2**31 - 1  # ids of Integer columns (vehicles, technicians)
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"  # op codes and part numbers


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


class WalkInIn(BaseModel):
    """A car that arrives without a booking."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"vehicle_id": 42, "complaint": "抖动，故障灯亮", "op_code": "IGN-COIL-PLUG"}]}
    )

    vehicle_id: int = Field(ge=1, le=MAX_INT)
    complaint: Text = Field(min_length=1, max_length=2000)
    op_code: str | None = Field(
        None, max_length=32, pattern=CODE_PATTERN, description="a service operation of the catalog"
    )
    technician_id: int | None = Field(None, ge=1, le=MAX_INT, description="the technician to assign now")


class TransitionIn(BaseModel):
    """Move the work order to another state; `note` is required (the reason) when cancelling."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"to": "diagnosis", "note": None},
                {"to": "repair", "note": "rework: idle still rough"},
                {"to": "cancelled", "note": "customer declined the repair"},
            ]
        }
    )

    to: WorkOrderState
    note: Text | None = Field(None, max_length=1000)


class WorkOrderPatch(BaseModel):
    """Facts recorded on an open work order; only the fields sent are changed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"findings": "蓄电池静置电压 11.6V，负载测试不合格", "labour_hours": 0.5, "alert_outcome": "confirmed"},
                {"technician_id": 7, "amount_cny": 980.0},
            ]
        },
    )

    findings: Text | None = Field(None, max_length=5000)
    labour_hours: float | None = Field(None, gt=0, le=200)
    alert_outcome: AlertOutcome | None = None
    technician_id: int | None = Field(None, ge=1, le=MAX_INT)
    amount_cny: float | None = Field(None, ge=0, le=10_000_000)


class PartUseIn(BaseModel):
    """A part fitted to the car: taken from the booking's reservation if there is one, else free stock."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"part_no": "BAT-12V-60AH", "qty": 1}]})

    part_no: str = Field(min_length=1, max_length=32, pattern=CODE_PATTERN)
    qty: int = Field(gt=0, le=1000)


class WorkOrderOut(BaseModel):
    id: int
    store_id: int
    vehicle_id: int
    vin: str
    booking_id: int | None
    alert_id: int | None
    op_code: str | None
    technician_id: int | None
    state: WorkOrderState
    complaint: str
    findings: str
    labour_hours: float | None
    alert_outcome: AlertOutcome | None
    amount_cny: float | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class TransitionOut(BaseModel):
    from_state: WorkOrderState | None
    to_state: WorkOrderState
    at: datetime
    actor: str
    note: str | None


class PlannedPartOut(BaseModel):
    """A part reserved by the booking: reserved, consumed (fitted) or released (not needed)."""

    reservation_id: int
    part_no: str
    qty: int
    available_on: date
    state: str


class UsedPartOut(BaseModel):
    id: int
    part_no: str
    qty: int
    reservation_id: int | None = Field(description="the reservation it consumed; null when taken from free stock")


class WorkOrderDetail(WorkOrderOut):
    evidence: dict[str, Any] = Field(description="the alert's evidence, copied when the work order was created")
    make: str
    model: str
    year: int
    operation_name_en: str | None
    operation_name_zh: str | None
    allowed_transitions: list[WorkOrderState]
    transitions: list[TransitionOut]
    planned_parts: list[PlannedPartOut]
    parts: list[UsedPartOut]
    survey: SurveyResultOut | None


class WorkOrderMoved(WorkOrderDetail):
    survey_link: str | None = Field(
        None, description="on closing: the customer's survey link path, shown only in this response"
    )
