"""Live precision from outcomes, the hold that keeps a mode's alerts out of the queue, and the confidence
stated with an alert (rules pure; one SQL read).

Every closed alert is an outcome: *confirmed* (the fault was found and fixed) or *refuted* (not found, or
dismissed). Per mode and model version, live precision = confirmed / outcomes. A mode whose live precision
falls below the floor over at least `min_outcomes` outcomes is **held**: its new alerts go to the watch
list, not the queue, until a retrained model is promoted (a new model version starts with no outcomes).
The stated confidence of an alert is the posterior mean of its mode's precision: the model's prior (what
the stress profile showed when it was promoted, `ModeParams.prior_precision`) worth `PRIOR_OUTCOMES`
outcomes, updated by the store group's own outcomes for the model version; so a mode that keeps being
refuted says so in every new alert, long before it is held.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from predict.catalog import FailureMode
from store.tables import alerts

DEFAULT_PRECISION_FLOOR = 0.5
DEFAULT_MIN_OUTCOMES = 10
PRIOR_OUTCOMES = 10.0


@dataclass(frozen=True, slots=True)
class Precision:
    """The outcomes of one mode's alerts under one model version."""

    confirmed: int = 0
    refuted: int = 0  # not found, or dismissed

    @property
    def outcomes(self) -> int:
        return self.confirmed + self.refuted

    @property
    def value(self) -> float | None:
        return self.confirmed / self.outcomes if self.outcomes else None

    def add(self, *, confirmed: bool) -> Precision:
        return Precision(self.confirmed + confirmed, self.refuted + (not confirmed))


@dataclass(frozen=True, slots=True)
class Hold:
    """Whether a mode's new alerts go to the watch list, and why."""

    held: bool
    reason: str | None


def hold(
    precision: Precision, *, floor: float = DEFAULT_PRECISION_FLOOR, min_outcomes: int = DEFAULT_MIN_OUTCOMES
) -> Hold:
    """Hold a mode whose live precision is below `floor` over at least `min_outcomes` outcomes."""
    value = precision.value
    if value is None or precision.outcomes < min_outcomes or value >= floor:
        return Hold(False, None)
    return Hold(True, f"live precision {value:.2f} ({precision.confirmed} confirmed of {precision.outcomes} "
                      f"closed) is below the floor {floor:.2f}: new alerts go to the watch list until a "
                      "retrained model is promoted")  # fmt: skip


def confidence(prior_precision: float, live: Precision, *, prior_outcomes: float = PRIOR_OUTCOMES) -> float:
    """The chance an alert of this mode is real: the model's prior precision, worth `prior_outcomes` outcomes,
    updated by the live ones (a Beta posterior mean)."""
    prior = min(max(prior_precision, 0.0), 1.0)
    return (prior * prior_outcomes + live.confirmed) / (prior_outcomes + live.outcomes)


def live_precision(conn: Connection, *, model_version: str) -> dict[FailureMode, Precision]:
    """Per mode, the outcomes of the closed alerts raised by `model_version` (all stores: the model is one)."""
    confirmed = alerts.c.outcome == "confirmed"
    query = (
        select(alerts.c.mode, confirmed.label("confirmed"), func.count())
        .where(alerts.c.model_version == model_version, alerts.c.state.in_(["resolved", "dismissed"]))
        .group_by(alerts.c.mode, confirmed)
    )
    counts: Counter[tuple[str, bool]] = Counter()
    for mode, is_confirmed, n in conn.execute(query):
        counts[(mode, bool(is_confirmed))] += n
    return {m: Precision(counts[(m.value, True)], counts[(m.value, False)]) for m in FailureMode}
