"""Prometheus metrics of prediction (the live service exposes the default registry; issue 20 serves it)."""

from __future__ import annotations

from prometheus_client import Counter

SCORING_ERRORS = Counter(
    "pitcall_predict_scoring_errors",
    "Vehicle-modes that could not be scored on a day (logged with the vehicle; the others were scored)",
    ["mode"],
)
