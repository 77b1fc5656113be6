"""Bodies of the alert routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from predict.alerts import AlertState, Outcome
from predict.catalog import FailureMode
from predict.dtc_kb import Severity


class AlertOut(BaseModel):
    id: int
    store_id: int
    vehicle_id: int
    vin: str
    mode: FailureMode
    state: AlertState
    severity: Severity
    confidence: float
    observed_at: datetime = Field(description="data time of the evidence that raised or last updated the alert")
    first_observed_at: datetime
    created_at: datetime = Field(description="when pitcall wrote the alert")
    days_to_failure: float | None
    operation: str
    parts: list[str]
    model_version: str
    outcome: Outcome | None
    dismiss_reason: str | None


class TransitionOut(BaseModel):
    from_state: AlertState | None
    to_state: AlertState
    at: datetime
    actor: str
    note: str | None


class CustomerBrief(BaseModel):
    id: int
    name: str
    phone: str | None
    preferred_language: str
    preferred_channel: str
    consent_proactive_contact: bool
    consent_telematics: bool


class OperationBrief(BaseModel):
    op_code: str
    name_en: str
    name_zh: str
    skill: str
    labour_hours: float
    parts: list[dict[str, Any]]


class AlertDetail(AlertOut):
    evidence: dict[str, Any] = Field(description="signals and trends that raised the alert, ready to chart")
    make: str
    model: str
    year: int
    customer: CustomerBrief | None
    recommended_operation: OperationBrief | None
    transitions: list[TransitionOut]
    recent_dtcs: list[dict[str, Any]]


class DismissIn(BaseModel):
    reason: str = Field(min_length=3, max_length=500, examples=["customer replaced the battery elsewhere"])


class NoteIn(BaseModel):
    note: str | None = Field(None, max_length=500)
