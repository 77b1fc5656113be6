"""Alert review for people and integrations: list (most urgent first), read, acknowledge, dismiss.

The lifecycle rules are predict/alerts.py's; this module adds tenancy, joins and paging.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, case, func, literal, select, tuple_

from api.alerts.schemas import AlertDetail, AlertOut, CustomerBrief, OperationBrief, TransitionOut
from api.errors import Conflict, Invalid
from api.pagination import Page, decode_cursor, encode_cursor
from api.tenancy import Principal, StoreScope
from predict import alerts as lifecycle
from predict.alerts import AlertState
from store.service_tables import service_operations
from store.tables import alerts, customers, dtc_events, vehicles

_RANK = case((alerts.c.severity == "critical", 0), (alerts.c.severity == "warning", 1), else_=2)
_DTF = func.coalesce(alerts.c.days_to_failure, literal(1e9))
_URGENCY = (_RANK, _DTF, -alerts.c.confidence, alerts.c.id)


def _listing(scope: StoreScope) -> Select[Any]:
    return (
        select(alerts, vehicles.c.vin).join(vehicles, vehicles.c.id == alerts.c.vehicle_id).where(scope.where(alerts))
    )


def _out(row: Any) -> AlertOut:
    m = row._mapping
    return AlertOut.model_validate({k: m[k] for k in AlertOut.model_fields if k in m})


def list_alerts(
    conn: Connection,
    *,
    scope: StoreScope,
    states: list[AlertState],
    modes: list[str],
    severities: list[str],
    vehicle_id: int | None,
    store_id: int | None,
    cursor: str | None,
    limit: int,
) -> Page[AlertOut]:
    """A store's alerts most urgent first: severity, days to failure (soonest, unknown last), confidence."""
    query = _listing(scope).where(alerts.c.state.in_([s.value for s in states]))
    if modes:
        query = query.where(alerts.c.mode.in_(modes))
    if severities:
        query = query.where(alerts.c.severity.in_(severities))
    if vehicle_id is not None:
        query = query.where(alerts.c.vehicle_id == vehicle_id)
    if store_id is not None:
        query = query.where(alerts.c.store_id == store_id)
    after = decode_cursor(cursor, 4)
    if after is not None:
        query = query.where(tuple_(*_URGENCY) > tuple_(*(literal(v) for v in after)))
    rows = conn.execute(
        query.add_columns(*(c.label(f"_k{i}") for i, c in enumerate(_URGENCY))).order_by(*_URGENCY).limit(limit + 1)
    ).all()
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]._mapping
        next_cursor = encode_cursor([last[f"_k{i}"] for i in range(4)])
    return Page[AlertOut](items=[_out(r) for r in rows[:limit]], next_cursor=next_cursor)


def get_detail(conn: Connection, *, scope: StoreScope, alert_id: int) -> AlertDetail:
    """One alert with its evidence, vehicle, customer, recommended operation, history and recent DTCs."""
    scope.get(conn, alerts, alert_id, what="alert")
    row = conn.execute(
        _listing(scope)
        .add_columns(vehicles.c.make, vehicles.c.model, vehicles.c.year, vehicles.c.customer_id)
        .where(alerts.c.id == alert_id)
    ).one()
    m = row._mapping
    customer = None
    if m["customer_id"] is not None:
        c = conn.execute(select(customers).where(customers.c.id == m["customer_id"])).one()._mapping
        customer = CustomerBrief(**{k: c[k] for k in CustomerBrief.model_fields})
    op = conn.execute(select(service_operations).where(service_operations.c.op_code == m["operation"])).first()
    operation = None if op is None else OperationBrief(**{k: op._mapping[k] for k in OperationBrief.model_fields})
    transitions = [
        TransitionOut(from_state=t.from_state, to_state=t.to_state, at=t.at, actor=t.actor, note=t.note)
        for t in lifecycle.history(conn, alert_id)
    ]
    dtcs = conn.execute(
        select(dtc_events.c.ts, dtc_events.c.mil, dtc_events.c.stored, dtc_events.c.pending, dtc_events.c.freeze_frame)
        .where(dtc_events.c.vehicle_id == m["vehicle_id"])
        .order_by(dtc_events.c.ts.desc())
        .limit(20)
    ).all()
    return AlertDetail(
        **_out(row).model_dump(),
        evidence=m["evidence"],
        make=m["make"],
        model=m["model"],
        year=m["year"],
        customer=customer,
        recommended_operation=operation,
        transitions=transitions,
        recent_dtcs=[dict(d._mapping) for d in dtcs],
    )


def move(
    conn: Connection,
    *,
    scope: StoreScope,
    principal: Principal,
    alert_id: int,
    to: AlertState,
    reason: str | None = None,
    outcome: lifecycle.Outcome | None = None,
    now: datetime | None = None,
) -> AlertDetail:
    """Apply a lifecycle transition; an invalid one raises Conflict listing the allowed states."""
    scope.get(conn, alerts, alert_id, what="alert")
    try:
        lifecycle.transition(
            conn, alert_id, to, actor=principal.actor, at=now or datetime.now(UTC), reason=reason, outcome=outcome
        )
    except lifecycle.InvalidTransition as exc:
        raise Conflict(str(exc), details={"state": exc.current, "allowed": sorted(exc.allowed)}) from exc
    except lifecycle.IncompleteTransition as exc:
        raise Invalid(str(exc)) from exc
    return get_detail(conn, scope=scope, alert_id=alert_id)
