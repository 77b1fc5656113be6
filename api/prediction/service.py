"""The prediction status of a store: what the false-alert budget and live precision decided, per mode.

The figures come from what the prediction service keeps (`prediction_calibration`, written each scored
day) and from the alerts themselves; the hold is decided by the same rule prediction applies
(`predict.outcomes.hold`), with the same settings (PREDICT_*).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, func, select

from api.prediction.schemas import LivePrecisionOut, ModeStatusOut, PredictionStatusOut
from api.tenancy import StoreScope
from predict.budget import MONTH_DAYS
from predict.catalog import FailureMode
from predict.model import shipped
from predict.outcomes import hold, live_precision
from predict.settings import PredictSettings
from store.tables import alerts, prediction_calibration, vehicles

RATE_WINDOW_DAYS = 30


def status(
    conn: Connection, *, scope: StoreScope, store_id: int | None, settings: PredictSettings, now: datetime
) -> PredictionStatusOut:
    """Per mode: the store's threshold, its live alert rate beside the budget, live precision, hold."""
    store = scope.single_store(store_id)
    kept = select(prediction_calibration).where(prediction_calibration.c.store_id == store)
    calibrations = {r.mode: r for r in conn.execute(kept)}
    version = next((r.model_version for r in calibrations.values()), None) or shipped().version
    precision = live_precision(conn, model_version=version)
    cars = conn.scalar(select(func.count()).select_from(vehicles).where(vehicles.c.store_id == store)) or 0
    since = now - timedelta(days=RATE_WINDOW_DAYS)
    raised = _per_mode(conn, alerts.c.store_id == store, alerts.c.created_at >= since)
    watching = _per_mode(conn, alerts.c.store_id == store, alerts.c.state == "watch")
    months = cars * RATE_WINDOW_DAYS / MONTH_DAYS
    modes = []
    for mode in FailureMode:
        cal = calibrations.get(mode.value)
        p = precision[mode]
        decision = hold(p, floor=settings.precision_floor, min_outcomes=settings.min_outcomes)
        modes.append(
            ModeStatusOut(
                mode=mode,
                threshold_z=None if cal is None else round(cal.threshold_z, 3),
                model_threshold_z=None if cal is None else round(cal.model_threshold_z, 3),
                calibrated_on=None if cal is None else cal.day,
                calibration_cars=0 if cal is None else cal.store_cars,
                alerts_30d=raised.get(mode.value, 0),
                alert_rate_per_1000_vm=round(1000 * raised.get(mode.value, 0) / months, 1) if months else None,
                budget_per_1000_vm=settings.budget_per_1000_vm,
                live_precision=LivePrecisionOut(confirmed=p.confirmed, refuted=p.refuted, precision=p.value),
                held=decision.held,
                hold_reason=decision.reason,
                watch_list=watching.get(mode.value, 0),
            )
        )
    return PredictionStatusOut(store_id=store, model_version=version, vehicles=cars,
                               precision_floor=settings.precision_floor, min_outcomes=settings.min_outcomes,
                               modes=modes)  # fmt: skip


def _per_mode(conn: Connection, *where: ColumnElement[bool]) -> dict[str, int]:
    query = select(alerts.c.mode, func.count()).where(*where).group_by(alerts.c.mode)
    return {mode: int(n) for mode, n in conn.execute(query)}
