"""Settings of prediction (environment prefix PREDICT_): the false-alert budget and the precision floor."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from predict.budget import DEFAULT_BUDGET_PER_1000_VM
from predict.outcomes import DEFAULT_MIN_OUTCOMES, DEFAULT_PRECISION_FLOOR


class PredictSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PREDICT_", extra="ignore")

    budget_per_1000_vm: float = Field(
        DEFAULT_BUDGET_PER_1000_VM, gt=0, description="false alerts per 1,000 vehicle-months a mode may raise"
    )
    precision_floor: float = Field(
        DEFAULT_PRECISION_FLOOR, ge=0, le=1, description="live precision under which a mode's alerts are held back"
    )
    min_outcomes: int = Field(DEFAULT_MIN_OUTCOMES, ge=1, description="closed alerts before a mode can be held")
