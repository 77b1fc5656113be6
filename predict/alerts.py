"""Predictive-maintenance alerts: the lifecycle rules (pure) and thin SQL functions around them.

Lifecycle: open -> acknowledged -> booked -> resolved (outcome confirmed / not_found), and dismissed
(with a reason) from any live state. An alert of a mode held back for poor live precision
(`predict.outcomes`) starts on the watch list instead of the queue: watch -> open (a manager or a
promoted model takes it into the queue), resolved or dismissed. At most one live alert (watch list
included) per vehicle and failure mode; the database enforces it with a partial unique index.
Suppression (cooldown, flapping) works in data time: the evidence's timestamps, never the wall clock,
so history can be replayed.

SQL functions take a Connection and never commit: the caller's unit of work does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, case, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from predict.catalog import FailureMode
from predict.dtc_kb import Severity as Severity  # re-exported: an alert's severity is a DTC's scale
from store.outbox import emit
from store.tables import LIVE_ALERT_PREDICATE, alert_transitions, alerts


class AlertState(StrEnum):
    WATCH = "watch"  # raised while its mode is held back: on the watch list, not in the queue
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    BOOKED = "booked"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class Outcome(StrEnum):
    CONFIRMED = "confirmed"  # the fault was found at the store
    NOT_FOUND = "not_found"  # the car was inspected and the fault was not there


class LabelOutcome(StrEnum):
    CONFIRMED = "confirmed"
    NOT_FOUND = "not_found"
    DISMISSED = "dismissed"


class RaiseOutcome(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    SUPPRESSED = "suppressed"


class SuppressReason(StrEnum):
    COOLDOWN = "cooldown"
    FLAPPING = "flapping"


LIVE_STATES: frozenset[AlertState] = frozenset({AlertState.OPEN, AlertState.ACKNOWLEDGED, AlertState.BOOKED})
# what the one-live-alert-per-vehicle-and-mode rule counts: the queue and the watch list
UNIQUE_STATES: frozenset[AlertState] = LIVE_STATES | {AlertState.WATCH}
_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
_TRANSITIONS: dict[AlertState, frozenset[AlertState]] = {
    AlertState.WATCH: frozenset({AlertState.OPEN, AlertState.DISMISSED, AlertState.RESOLVED}),
    AlertState.OPEN: frozenset({AlertState.ACKNOWLEDGED, AlertState.BOOKED, AlertState.DISMISSED, AlertState.RESOLVED}),
    AlertState.ACKNOWLEDGED: frozenset({AlertState.BOOKED, AlertState.DISMISSED, AlertState.RESOLVED}),
    # booked -> acknowledged: the booking was cancelled; the store still owes the customer a slot
    AlertState.BOOKED: frozenset({AlertState.ACKNOWLEDGED, AlertState.RESOLVED, AlertState.DISMISSED}),
    AlertState.RESOLVED: frozenset(),
    AlertState.DISMISSED: frozenset(),
}


class AlertError(Exception):
    """Base of alert errors."""


class AlertNotFound(AlertError):  # noqa: N818 (named for the domain)
    """No alert with this id."""


class InvalidTransition(AlertError):  # noqa: N818 (named for the domain)
    """The alert's state does not lead to the requested one; `allowed` lists the states that it does."""

    def __init__(self, current: AlertState, requested: AlertState) -> None:
        self.current = current
        self.requested = requested
        self.allowed = allowed_transitions(current)
        names = ", ".join(sorted(self.allowed)) or "none (final state)"
        super().__init__(f"alert is {current}; cannot go to {requested}; allowed: {names}")


class IncompleteTransition(AlertError):  # noqa: N818 (named for the domain)
    """A transition without what it needs: resolved needs an outcome, dismissed a reason."""


class AlertConflict(AlertError):  # noqa: N818 (named for the domain)
    """Transient: concurrent writers kept changing the live alert; retry the unit of work."""


def severity_rank(severity: Severity) -> int:
    """Return the rank of a severity: info < warning < critical."""
    return _SEVERITY_RANK[severity]


def allowed_transitions(state: AlertState) -> frozenset[AlertState]:
    """Return the states an alert in `state` may move to (empty for final states)."""
    return _TRANSITIONS[state]


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """What a detector wants to raise for one vehicle and failure mode, at data time `observed_at`."""

    vehicle_id: int
    store_id: int
    mode: FailureMode
    severity: Severity
    confidence: float
    observed_at: datetime
    days_to_failure: float | None
    evidence: dict[str, Any]
    operation: str
    parts: tuple[str, ...]
    model_version: str
    held: bool = False  # its mode is held back (`predict.outcomes`): the watch list, not the queue

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence {self.confidence} is not within 0..1")
        if self.observed_at.tzinfo is None:
            raise ValueError("observed_at must be timezone-aware")


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One alert as stored."""

    id: int
    store_id: int
    vehicle_id: int
    mode: FailureMode
    state: AlertState
    severity: Severity
    confidence: float
    observed_at: datetime
    first_observed_at: datetime
    days_to_failure: float | None
    evidence: dict[str, Any]
    operation: str
    parts: tuple[str, ...]
    model_version: str
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    booked_at: datetime | None
    closed_at: datetime | None
    outcome: Outcome | None
    dismiss_reason: str | None
    closed_by: str | None


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    alert_id: int
    from_state: AlertState | None
    to_state: AlertState
    at: datetime
    actor: str
    note: str | None


@dataclass(frozen=True, slots=True)
class AlertLabel:
    """A closed alert as training reads it: what was predicted, when, and what the store found."""

    alert_id: int
    vehicle_id: int
    mode: FailureMode
    observed_at: datetime
    first_observed_at: datetime
    outcome: LabelOutcome
    reason: str | None  # the dismiss reason


@dataclass(frozen=True, slots=True)
class RaiseResult:
    outcome: RaiseOutcome
    alert_id: int | None  # None when suppressed
    reason: SuppressReason | None = None


@dataclass(frozen=True, slots=True)
class ClosedAlert:
    """A dismissed or not-found alert of the same vehicle and mode, as suppression sees it."""

    severity: Severity
    observed_at: datetime  # data time of its last evidence: the cooldown counts from here


@dataclass(frozen=True, slots=True)
class _Policy:
    cooldown_days: float
    flap_window_days: float
    flap_limit: int

    @property
    def lookback(self) -> timedelta:
        return timedelta(days=max(self.cooldown_days, self.flap_window_days))


# --- pure rules ---------------------------------------------------------------------------------


def plan_transition(
    current: AlertState,
    to_state: AlertState,
    *,
    actor: str,
    at: datetime,
    reason: str | None = None,
    outcome: Outcome | None = None,
) -> dict[str, Any]:
    """Return the column values that move an alert from `current` to `to_state`.

    Raises InvalidTransition if the move is not allowed, IncompleteTransition if resolved lacks an
    outcome, dismissed lacks a reason, or an outcome comes with anything but resolved.
    """
    if to_state not in allowed_transitions(current):
        raise InvalidTransition(current, to_state)
    if outcome is not None and to_state is not AlertState.RESOLVED:
        raise IncompleteTransition(f"an outcome goes only with resolved, not {to_state}")
    values: dict[str, Any] = {"state": to_state.value}
    if to_state is AlertState.OPEN:  # from the watch list into the queue: nothing else changes
        return values
    if to_state is AlertState.ACKNOWLEDGED:
        values["acknowledged_at"] = at
    elif to_state is AlertState.BOOKED:
        values["booked_at"] = at
    elif to_state is AlertState.RESOLVED:
        if outcome is None:
            raise IncompleteTransition("resolving an alert needs an outcome (confirmed or not_found)")
        values.update(closed_at=at, closed_by=actor, outcome=Outcome(outcome).value)
    else:
        if reason is None or not reason.strip():
            raise IncompleteTransition("dismissing an alert needs a reason")
        values.update(closed_at=at, closed_by=actor, dismiss_reason=reason.strip())
    return values


def suppression_reason(
    severity: Severity,
    observed_at: datetime,
    closed: Sequence[ClosedAlert],
    *,
    cooldown_days: float = 14,
    flap_window_days: float = 60,
    flap_limit: int = 2,
) -> SuppressReason | None:
    """Tell why a new alert must not open given the vehicle+mode's dismissed/not-found alerts, or None.

    Flapping: `flap_limit` or more closed within `flap_window_days` suppress anything below critical.
    Cooldown: one closed within `cooldown_days` suppresses, unless the new alert is critical and no
    closed one in the cooldown was (escalation). All times are data time.
    """
    critical = severity is Severity.CRITICAL
    flapping = [c for c in closed if c.observed_at > observed_at - timedelta(days=flap_window_days)]
    if len(flapping) >= flap_limit and not critical:
        return SuppressReason.FLAPPING
    cooling = [c for c in closed if c.observed_at > observed_at - timedelta(days=cooldown_days)]
    if not cooling:
        return None
    if critical and all(c.severity is not Severity.CRITICAL for c in cooling):
        return None
    return SuppressReason.COOLDOWN


def merge_live(live: AlertRow, draft: AlertDraft) -> dict[str, Any]:
    """Return the column values that fold a newer draft into a live alert.

    Severity never goes down; first_observed_at never moves later. A draft older than the alert's
    evidence (out-of-order replay) can raise the severity but does not replace the evidence.
    """
    values: dict[str, Any] = {
        "severity": max(live.severity, draft.severity, key=severity_rank).value,
        "first_observed_at": min(live.first_observed_at, draft.observed_at),
    }
    if draft.observed_at >= live.observed_at:
        values.update(
            confidence=draft.confidence,
            observed_at=draft.observed_at,
            days_to_failure=draft.days_to_failure,
            evidence=draft.evidence,
            operation=draft.operation,
            parts=list(draft.parts),
            model_version=draft.model_version,
        )
    return values


# --- SQL ----------------------------------------------------------------------------------------

_LIVE_SQL = alerts.c.state.in_(sorted(UNIQUE_STATES))
_SUPPRESSING_SQL = or_(
    alerts.c.state == AlertState.DISMISSED.value,
    (alerts.c.state == AlertState.RESOLVED.value) & (alerts.c.outcome == Outcome.NOT_FOUND.value),
)
_SEVERITY_RANK_SQL = case({s.value: r for s, r in _SEVERITY_RANK.items()}, value=alerts.c.severity)


def raise_alert(
    conn: Connection,
    draft: AlertDraft,
    *,
    cooldown_days: float = 14,
    flap_window_days: float = 60,
    flap_limit: int = 2,
) -> RaiseResult:
    """Open an alert for the draft, fold it into the live one, or suppress it (see suppression_reason).

    Safe against concurrent raisers: the insert defers to the partial unique index. Raises
    AlertConflict (transient) if the live alert kept changing under it.
    """
    policy = _Policy(cooldown_days, flap_window_days, flap_limit)
    for _attempt in range(3):
        live = _live_for_update(conn, draft)
        if live is not None:
            values = merge_live(live, draft)
            conn.execute(update(alerts).where(alerts.c.id == live.id).values(**values, updated_at=func.now()))
            if live.state is AlertState.WATCH and not draft.held:  # its mode is no longer held back
                actor = f"predict:{draft.model_version}"
                transition(conn, live.id, AlertState.OPEN, actor=actor, at=draft.observed_at)
                payload = _event(draft)
                emit(conn, store_id=draft.store_id, event_type="alert.raised", subject_id=live.id, payload=payload)
            return RaiseResult(RaiseOutcome.UPDATED, live.id)
        reason = _suppressed(conn, draft, policy)
        if reason is not None:
            return RaiseResult(RaiseOutcome.SUPPRESSED, None, reason)
        new_id = _insert_if_no_live(conn, draft)
        if new_id is not None:
            state = AlertState.WATCH if draft.held else AlertState.OPEN
            _record(conn, new_id, None, state, actor=f"predict:{draft.model_version}", at=draft.observed_at)
            event = "alert.watched" if draft.held else "alert.raised"  # a watched alert reaches no customer
            emit(conn, store_id=draft.store_id, event_type=event, subject_id=new_id, payload=_event(draft))
            return RaiseResult(RaiseOutcome.OPENED, new_id)
    raise AlertConflict(f"live {draft.mode} alert of vehicle {draft.vehicle_id} kept changing")


def _event(draft: AlertDraft) -> dict[str, Any]:
    return {
        "vehicle_id": draft.vehicle_id,
        "mode": draft.mode.value,
        "severity": draft.severity,
        "confidence": draft.confidence,
        "observed_at": draft.observed_at.isoformat(),
        "days_to_failure": draft.days_to_failure,
        "operation": draft.operation,
    }


def _live_for_update(conn: Connection, draft: AlertDraft) -> AlertRow | None:
    query = (
        select(alerts)
        .where(alerts.c.vehicle_id == draft.vehicle_id, alerts.c.mode == draft.mode.value, _LIVE_SQL)
        .with_for_update()
    )
    row = conn.execute(query).first()
    return None if row is None else _alert(row)


def _suppressed(conn: Connection, draft: AlertDraft, policy: _Policy) -> SuppressReason | None:
    query = select(alerts.c.severity, alerts.c.observed_at).where(
        alerts.c.vehicle_id == draft.vehicle_id,
        alerts.c.mode == draft.mode.value,
        _SUPPRESSING_SQL,
        alerts.c.observed_at > draft.observed_at - policy.lookback,
    )
    closed = [ClosedAlert(Severity(r.severity), r.observed_at) for r in conn.execute(query)]
    return suppression_reason(
        draft.severity,
        draft.observed_at,
        closed,
        cooldown_days=policy.cooldown_days,
        flap_window_days=policy.flap_window_days,
        flap_limit=policy.flap_limit,
    )


def _insert_if_no_live(conn: Connection, draft: AlertDraft) -> int | None:
    statement = (
        pg_insert(alerts)
        .values(
            store_id=draft.store_id,
            vehicle_id=draft.vehicle_id,
            mode=draft.mode.value,
            state=(AlertState.WATCH if draft.held else AlertState.OPEN).value,
            severity=draft.severity.value,
            confidence=draft.confidence,
            observed_at=draft.observed_at,
            first_observed_at=draft.observed_at,
            days_to_failure=draft.days_to_failure,
            evidence=draft.evidence,
            operation=draft.operation,
            parts=list(draft.parts),
            model_version=draft.model_version,
        )
        .on_conflict_do_nothing(
            index_elements=[alerts.c.vehicle_id, alerts.c.mode], index_where=text(LIVE_ALERT_PREDICATE)
        )
        .returning(alerts.c.id)
    )
    new_id = conn.scalar(statement)
    return None if new_id is None else int(new_id)


def transition(
    conn: Connection,
    alert_id: int,
    to_state: AlertState,
    *,
    actor: str,
    at: datetime,
    reason: str | None = None,
    outcome: Outcome | None = None,
) -> AlertRow:
    """Move an alert to `to_state` and record who did it; return the alert as updated.

    `at` is the caller's clock (data time when replaying). Locks the alert row. Raises AlertNotFound,
    InvalidTransition or IncompleteTransition; `reason` is kept as the transition's note.
    """
    row = conn.execute(select(alerts).where(alerts.c.id == alert_id).with_for_update()).first()
    if row is None:
        raise AlertNotFound(f"no alert {alert_id}")
    current = AlertState(row.state)
    values = plan_transition(current, AlertState(to_state), actor=actor, at=at, reason=reason, outcome=outcome)
    updated = conn.execute(
        update(alerts).where(alerts.c.id == alert_id).values(**values, updated_at=func.now()).returning(alerts)
    ).one()
    _record(conn, alert_id, current, AlertState(to_state), actor=actor, at=at, note=reason)
    emit(
        conn,
        store_id=updated.store_id,
        event_type=f"alert.{AlertState(to_state).value}",
        subject_id=alert_id,
        payload={
            "vehicle_id": updated.vehicle_id,
            "mode": updated.mode,
            "from": current.value,
            "actor": actor,
            "outcome": outcome,
            "reason": reason,
        },
    )
    return _alert(updated)


def _record(
    conn: Connection,
    alert_id: int,
    from_state: AlertState | None,
    to_state: AlertState,
    *,
    actor: str,
    at: datetime,
    note: str | None = None,
) -> None:
    conn.execute(
        insert(alert_transitions).values(
            alert_id=alert_id,
            from_state=None if from_state is None else from_state.value,
            to_state=to_state.value,
            at=at,
            actor=actor,
            note=note,
        )
    )


def get_alert(conn: Connection, alert_id: int) -> AlertRow:
    """Return one alert; raise AlertNotFound."""
    row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
    if row is None:
        raise AlertNotFound(f"no alert {alert_id}")
    return _alert(row)


def history(conn: Connection, alert_id: int) -> list[TransitionRecord]:
    """Return an alert's transitions, oldest first (opening included)."""
    t = alert_transitions.c
    query = select(alert_transitions).where(t.alert_id == alert_id).order_by(t.at, t.id)
    return [
        TransitionRecord(
            alert_id=r.alert_id,
            from_state=None if r.from_state is None else AlertState(r.from_state),
            to_state=AlertState(r.to_state),
            at=r.at,
            actor=r.actor,
            note=r.note,
        )
        for r in conn.execute(query)
    ]


def open_alerts(
    conn: Connection,
    *,
    store_id: int,
    states: frozenset[AlertState] = LIVE_STATES,
    limit: int | None = None,
) -> list[AlertRow]:
    """Return a store's alerts in `states` (default: all live), most urgent first.

    Order: severity (critical first), days to failure (soonest first, unknown last), confidence.
    """
    query = (
        select(alerts)
        .where(alerts.c.store_id == store_id, alerts.c.state.in_(sorted(states)))
        .order_by(
            _SEVERITY_RANK_SQL.desc(),
            alerts.c.days_to_failure.asc().nulls_last(),
            alerts.c.confidence.desc(),
            alerts.c.id,
        )
        .limit(limit)
    )
    return [_alert(r) for r in conn.execute(query)]


def labels(conn: Connection, *, since: datetime | None = None) -> list[AlertLabel]:
    """Return closed alerts' outcomes for training, oldest evidence first; `since` filters observed_at."""
    query = select(alerts).where(alerts.c.state.in_([AlertState.RESOLVED.value, AlertState.DISMISSED.value]))
    if since is not None:
        query = query.where(alerts.c.observed_at >= since)
    return [_label(r) for r in conn.execute(query.order_by(alerts.c.observed_at, alerts.c.id))]


def _label(row: Row[Any]) -> AlertLabel:
    dismissed = row.state == AlertState.DISMISSED.value
    return AlertLabel(
        alert_id=row.id,
        vehicle_id=row.vehicle_id,
        mode=FailureMode(row.mode),
        observed_at=row.observed_at,
        first_observed_at=row.first_observed_at,
        outcome=LabelOutcome.DISMISSED if dismissed else LabelOutcome(row.outcome),
        reason=row.dismiss_reason if dismissed else None,
    )


def _alert(row: Row[Any]) -> AlertRow:
    m = row._mapping
    return AlertRow(
        id=m["id"],
        store_id=m["store_id"],
        vehicle_id=m["vehicle_id"],
        mode=FailureMode(m["mode"]),
        state=AlertState(m["state"]),
        severity=Severity(m["severity"]),
        confidence=m["confidence"],
        observed_at=m["observed_at"],
        first_observed_at=m["first_observed_at"],
        days_to_failure=m["days_to_failure"],
        evidence=m["evidence"],
        operation=m["operation"],
        parts=tuple(m["parts"]),
        model_version=m["model_version"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        acknowledged_at=m["acknowledged_at"],
        booked_at=m["booked_at"],
        closed_at=m["closed_at"],
        outcome=None if m["outcome"] is None else Outcome(m["outcome"]),
        dismiss_reason=m["dismiss_reason"],
        closed_by=m["closed_by"],
    )
