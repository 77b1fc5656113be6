"""Store profiles and the store dashboard: SQL that gathers the week's rows, figures from pure helpers.

Every query of a tenant-owned table goes through the caller's StoreScope. Weeks are ISO weeks in the
store's time zone; the previous week is fetched in the same queries for comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Float, and_, case, cast, func, or_, select, true
from sqlalchemy.dialects.postgresql import distinct_on

from api.capacity.schemas import DayHours, SettingsOut
from api.dashboard import figures, periods
from api.dashboard.periods import Week, WeeklyHours
from api.dashboard.schemas import (
    AlertCounts,
    DashboardOut,
    LeadTime,
    OpenAlertCount,
    ServiceVisits,
    StoreOut,
    SurveyScore,
    TechnicianLoad,
    Utilisation,
    WeekFigures,
)
from api.errors import Invalid, NotFound
from api.pagination import Page, decode_cursor, encode_cursor
from api.tenancy import StoreScope
from store.service_tables import (
    bookings,
    opening_hours,
    outbox,
    store_settings,
    surveys,
    technician_shifts,
    technicians,
    work_orders,
)
from store.tables import LIVE_ALERT_STATES, SEVERITIES, alerts, stores

WORKED_BOOKING_STATES = ("confirmed", "in_service", "completed")  # held (or hold) a technician's time
SURVEY_TOP_SCORE = 9
DEFAULT_SETTINGS = {"auto_propose_critical": False, "slot_step_minutes": 30, "booking_horizon_days": 21}


# --- stores -----------------------------------------------------------------------------------


def list_stores(conn: Connection, *, scope: StoreScope, cursor: str | None, limit: int) -> Page[StoreOut]:
    """The caller's stores by id, with opening hours and settings."""
    after = decode_cursor(cursor, 1)
    query = select(stores).where(_own_stores(scope)).order_by(stores.c.id).limit(limit + 1)
    if after is not None:
        query = query.where(stores.c.id > int(after[0]))
    rows = conn.execute(query).all()
    items = _profiles(conn, scope, rows[:limit])
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return Page[StoreOut](items=items, next_cursor=next_cursor)


def get_store(conn: Connection, *, scope: StoreScope, store_id: int) -> StoreOut:
    """One of the caller's stores; another group's or store's id is 404."""
    scope.check(store_id)
    row = conn.execute(select(stores).where(_own_stores(scope), stores.c.id == store_id)).first()
    if row is None:
        raise NotFound(f"no store {store_id}")
    return _profiles(conn, scope, [row])[0]


def store_timezone(conn: Connection, *, scope: StoreScope, store_id: int) -> ZoneInfo:
    """The store's time zone; 404 outside the scope."""
    scope.check(store_id)
    name = conn.scalar(select(stores.c.timezone).where(_own_stores(scope), stores.c.id == store_id))
    if name is None:
        raise NotFound(f"no store {store_id}")
    return ZoneInfo(name)


def store_technicians(
    conn: Connection, *, scope: StoreScope, store_id: int
) -> tuple[list[Any], dict[int, list[WeeklyHours]]]:
    """The store's technicians (id, name, skills, active; by name) and their weekly shifts by technician id."""
    t, s = technicians.c, technician_shifts.c
    people = list(
        conn.execute(
            select(t.id, t.name, t.skills, t.active)
            .where(scope.where(technicians), t.store_id == store_id)
            .order_by(t.name, t.id)
        )
    )
    shifts: dict[int, list[WeeklyHours]] = {p.id: [] for p in people}
    for row in conn.execute(
        select(s.technician_id, s.weekday, s.starts_at, s.ends_at)
        .join(technicians, t.id == s.technician_id)
        .where(scope.where(technicians), t.store_id == store_id)
    ):
        shifts[row.technician_id].append(WeeklyHours(row.weekday, row.starts_at, row.ends_at))
    return people, shifts


def _own_stores(scope: StoreScope) -> ColumnElement[bool]:
    return stores.c.id.in_(sorted(scope.store_ids))


def _profiles(conn: Connection, scope: StoreScope, rows: Sequence[Any]) -> list[StoreOut]:
    ids = [r.id for r in rows]
    oh = opening_hours.c
    hours: dict[int, list[DayHours]] = {i: [] for i in ids}
    for h in conn.execute(select(opening_hours).where(scope.where(opening_hours), oh.store_id.in_(ids))):
        hours[h.store_id].append(DayHours(weekday=h.weekday, starts_at=h.opens_at, ends_at=h.closes_at))
    settings = {
        s.store_id: s._mapping
        for s in conn.execute(
            select(store_settings).where(scope.where(store_settings), store_settings.c.store_id.in_(ids))
        )
    }
    return [
        StoreOut(
            id=r.id, group_id=r.group_id, code=r.code, name=r.name, timezone=r.timezone,
            opening_hours=sorted(hours[r.id], key=lambda d: d.weekday),
            settings=_settings(r.id, settings.get(r.id, DEFAULT_SETTINGS)),
        )
        for r in rows
    ]  # fmt: skip


def _settings(store_id: int, values: Any) -> SettingsOut:
    return SettingsOut(store_id=store_id, **{k: values[k] for k in DEFAULT_SETTINGS})


# --- dashboard --------------------------------------------------------------------------------


def dashboard(
    conn: Connection, *, scope: StoreScope, store_id: int | None, week_of: date | None, now: datetime
) -> DashboardOut:
    """The store's figures for the week containing `week_of` (default: today's local date) and the week before."""
    sid = scope.single_store(store_id)
    tz = store_timezone(conn, scope=scope, store_id=sid)
    day = week_of or periods.today_in(tz, now)
    try:
        periods.check_year(day)
    except periods.RangeError as exc:
        raise Invalid(str(exc)) from exc
    week = periods.week_of(day, tz)
    weeks = (week.previous(tz), week)
    counts = _alert_counts(conn, scope, sid, weeks)
    visits = _service_visits(conn, scope, sid, weeks)
    leads = _lead_times(conn, scope, sid, weeks)
    loads = _utilisation(conn, scope, sid, weeks, tz)
    scores = _survey_scores(conn, scope, sid, weeks)
    previous, current = (
        WeekFigures(
            week_of=w.monday, starts_at=w.starts_at, ends_at=w.ends_at, alerts=counts[i],
            service_visits=visits[i], lead_time=leads[i], utilisation=loads[i], survey=scores[i],
        )
        for i, w in enumerate(weeks)
    )  # fmt: skip
    return DashboardOut(
        store_id=sid, timezone=str(tz), week=current, previous_week=previous,
        open_alerts=_open_alerts(conn, scope, sid),
    )  # fmt: skip


def _during(column: Any, week: Week) -> ColumnElement[bool]:
    return and_(column >= week.starts_at, column < week.ends_at)


def _alert_counts(conn: Connection, scope: StoreScope, sid: int, weeks: Sequence[Week]) -> list[AlertCounts]:
    a = alerts.c
    resolved = a.state == "resolved"
    measures: dict[str, tuple[Any, ColumnElement[bool]]] = {
        "raised": (a.created_at, true()),
        "acknowledged": (a.acknowledged_at, true()),
        "booked": (a.booked_at, true()),
        "confirmed": (a.closed_at, resolved & (a.outcome == "confirmed")),
        "not_found": (a.closed_at, resolved & (a.outcome == "not_found")),
        "dismissed": (a.closed_at, a.state == "dismissed"),
    }
    columns = [
        func.count().filter(_during(column, w) & extra).label(f"{name}_{i}")
        for i, w in enumerate(weeks)
        for name, (column, extra) in measures.items()
    ]
    since = weeks[0].starts_at
    touched = or_(a.created_at >= since, a.acknowledged_at >= since, a.booked_at >= since, a.closed_at >= since)
    row = conn.execute(select(*columns).where(scope.where(alerts), a.store_id == sid, touched)).one()._mapping
    return [AlertCounts(**{name: row[f"{name}_{i}"] for name in measures}) for i in range(len(weeks))]


def _service_visits(conn: Connection, scope: StoreScope, sid: int, weeks: Sequence[Week]) -> list[ServiceVisits]:
    wo = work_orders.c
    columns = []
    for w in weeks:
        columns += [
            func.count().filter(_during(wo.created_at, w)),
            func.count().filter(_during(wo.created_at, w) & wo.alert_id.is_not(None)),
        ]
    row = conn.execute(
        select(*columns).where(
            scope.where(work_orders), wo.store_id == sid, wo.state != "cancelled",
            wo.created_at >= weeks[0].starts_at, wo.created_at < weeks[-1].ends_at,
        )
    ).one()  # fmt: skip
    return [
        ServiceVisits(
            checked_in=row[2 * i], from_alerts=row[2 * i + 1], proactive_share=figures.ratio(row[2 * i + 1], row[2 * i])
        )
        for i in range(len(weeks))
    ]


def _lead_times(conn: Connection, scope: StoreScope, sid: int, weeks: Sequence[Week]) -> list[LeadTime]:
    a, wo = alerts.c, work_orders.c
    checked_in = select(func.min(wo.created_at)).where(scope.where(work_orders), wo.alert_id == a.id).scalar_subquery()
    rows = conn.execute(
        select(a.id, a.first_observed_at, a.closed_at, a.days_to_failure, checked_in.label("checked_in_at")).where(
            scope.where(alerts), a.store_id == sid, a.state == "resolved", a.outcome == "confirmed",
            a.closed_at >= weeks[0].starts_at, a.closed_at < weeks[-1].ends_at,
        )
    ).all()  # fmt: skip
    first = _first_predictions(conn, scope, sid, [r.id for r in rows])
    result = []
    for w in weeks:
        confirmed = [r for r in rows if w.contains(r.closed_at)]
        lead = [figures.days_between(r.first_observed_at, r.checked_in_at) for r in confirmed if r.checked_in_at]
        predicted = [p for r in confirmed if (p := first.get(r.id, r.days_to_failure)) is not None]
        result.append(
            LeadTime(
                confirmed=len(confirmed), measured=len(lead), average_days=figures.mean(lead),
                median_days=figures.median(lead), predicted_average_days=figures.mean(predicted),
                predicted_median_days=figures.median(predicted),
            )
        )  # fmt: skip
    return result


def _first_predictions(conn: Connection, scope: StoreScope, sid: int, alert_ids: list[int]) -> dict[int, float | None]:
    """days_to_failure as first raised, from each alert's alert.raised event (later updates overwrite the column)."""
    if not alert_ids:
        return {}
    ob = outbox.c
    rows = conn.execute(
        select(ob.subject_id, cast(ob.payload["days_to_failure"].astext, Float))
        .ext(distinct_on(ob.subject_id))
        .where(scope.where(outbox), ob.store_id == sid, ob.event_type == "alert.raised", ob.subject_id.in_(alert_ids))
        .order_by(ob.subject_id, ob.id)
    )
    return {int(r[0]): r[1] for r in rows}


def _utilisation(
    conn: Connection, scope: StoreScope, sid: int, weeks: Sequence[Week], tz: ZoneInfo
) -> list[Utilisation]:
    b = bookings.c
    people, shifts = store_technicians(conn, scope=scope, store_id=sid)
    worked = conn.execute(
        select(b.technician_id, b.starts_at, b.ends_at).where(
            scope.where(bookings), b.store_id == sid, b.state.in_(WORKED_BOOKING_STATES),
            b.starts_at < weeks[-1].ends_at, b.ends_at > weeks[0].starts_at,
        )
    ).all()  # fmt: skip
    return [_week_load(w, people, shifts, worked, tz) for w in weeks]


def _week_load(
    week: Week, people: Sequence[Any], shifts: dict[int, list[WeeklyHours]], worked: Sequence[Any], tz: ZoneInfo
) -> Utilisation:
    loads = []
    for person in people:
        booked = sum(
            periods.overlap_hours(r.starts_at, r.ends_at, week.starts_at, week.ends_at)
            for r in worked
            if r.technician_id == person.id
        )
        on_shift = periods.clipped_hours(
            periods.expand(shifts[person.id], tz, week.starts_at, week.ends_at), week.starts_at, week.ends_at
        )
        if person.active or booked > 0:
            loads.append(
                TechnicianLoad(
                    technician_id=person.id, name=person.name, booked_hours=round(booked, 2),
                    shift_hours=round(on_shift, 2), utilisation=figures.ratio(booked, on_shift),
                )
            )  # fmt: skip
    booked_total = sum(x.booked_hours for x in loads)
    shift_total = sum(x.shift_hours for x in loads)
    return Utilisation(
        overall=figures.ratio(booked_total, shift_total), booked_hours=round(booked_total, 2),
        shift_hours=round(shift_total, 2), technicians=loads,
    )  # fmt: skip


def _survey_scores(conn: Connection, scope: StoreScope, sid: int, weeks: Sequence[Week]) -> list[SurveyScore]:
    sv = surveys.c
    rows = conn.execute(
        select(sv.answered_at, sv.score).where(
            scope.where(surveys), sv.store_id == sid, sv.score.is_not(None),
            sv.answered_at >= weeks[0].starts_at, sv.answered_at < weeks[-1].ends_at,
        )
    ).all()  # fmt: skip
    result = []
    for w in weeks:
        scores = [float(r.score) for r in rows if w.contains(r.answered_at)]
        result.append(
            SurveyScore(
                answered=len(scores), average=figures.mean(scores),
                share_9_plus=figures.share_at_least(scores, SURVEY_TOP_SCORE),
            )
        )  # fmt: skip
    return result


def _open_alerts(conn: Connection, scope: StoreScope, sid: int) -> list[OpenAlertCount]:
    a = alerts.c
    rank = case({s: i for i, s in enumerate(SEVERITIES)}, value=a.severity)
    rows = conn.execute(
        select(a.mode, a.severity, func.count())
        .where(scope.where(alerts), a.store_id == sid, a.state.in_(LIVE_ALERT_STATES))
        .group_by(a.mode, a.severity)
        .order_by(func.max(rank).desc(), a.mode)
    ).all()
    return [OpenAlertCount(mode=r[0], severity=r[1], count=r[2]) for r in rows]
