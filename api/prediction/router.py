"""Route of the prediction status: the false-alert budget, live alert rates, live precision and holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.db import Db
from api.deps import Anyone, Scope
from api.errors import ERROR_RESPONSES
from api.prediction import service
from api.prediction.schemas import PredictionStatusOut
from predict.settings import PredictSettings

router = APIRouter(tags=["prediction"], responses=ERROR_RESPONSES)


@router.get("/prediction/status", response_model=PredictionStatusOut, summary="Prediction status of a store")
def get_status(
    db: Db,
    _: Anyone,
    scope: Scope,
    store_id: Annotated[int | None, Query(description="required for a group-wide caller")] = None,
) -> PredictionStatusOut:
    """Per failure mode: the alert threshold the store's false-alert budget set, the store's alerts of the
    last 30 days per 1,000 vehicle-months beside the budget, the live precision of the model's alerts, and
    whether the mode is held back (its new alerts go to the watch list: `GET /alerts?state=watch`)."""
    return service.status(db, scope=scope, store_id=store_id, settings=PredictSettings(), now=datetime.now(UTC))
