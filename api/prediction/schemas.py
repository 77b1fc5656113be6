"""Bodies of the prediction status: each mode's threshold, live alert rate beside its budget, precision, hold."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from predict.catalog import FailureMode


class LivePrecisionOut(BaseModel):
    confirmed: int = Field(description="closed alerts of the model version whose fault was found")
    refuted: int = Field(description="closed alerts found not at fault, or dismissed")
    precision: float | None = Field(description="confirmed / closed; null before any outcome")


class ModeStatusOut(BaseModel):
    mode: FailureMode
    threshold_z: float | None = Field(description="the alert threshold the store's false-alert budget set")
    model_threshold_z: float | None = Field(description="the model's own threshold (the budget never goes below)")
    calibrated_on: date | None = Field(description="the data day of that threshold; null before any scoring")
    calibration_cars: int = Field(description="the store's cars whose recent scores set the threshold")
    alerts_30d: int = Field(description="alerts raised in the last 30 days, watch list included")
    alert_rate_per_1000_vm: float | None = Field(description="those alerts per 1,000 vehicle-months")
    budget_per_1000_vm: float = Field(description="the false-alert budget per mode (PREDICT_BUDGET_PER_1000_VM)")
    live_precision: LivePrecisionOut = Field(description="outcomes of the model version's alerts, every store")
    held: bool = Field(description="new alerts of this mode go to the watch list, not the queue")
    hold_reason: str | None
    watch_list: int = Field(description="alerts of this mode on the store's watch list")


class PredictionStatusOut(BaseModel):
    store_id: int
    model_version: str
    vehicles: int
    precision_floor: float
    min_outcomes: int
    modes: list[ModeStatusOut]
