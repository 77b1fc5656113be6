"""Satisfaction surveys: sent when a work order closes, answered once through a public token link.

The token is shown once (in the closing response and the survey.sent event); only its SHA-256 is
stored, so the database alone cannot answer for a customer. Public reads show the store's name, the
vehicle's make/model/year, the operation and the questions: nothing about the customer.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from api.errors import Conflict, NotFound
from api.surveys.questions import questions, thanks
from api.surveys.schemas import (
    AnswerIn,
    AnswerOut,
    QuestionOut,
    SurveyOperation,
    SurveyResultOut,
    SurveyVehicle,
    SurveyView,
)
from store.outbox import emit
from store.service_tables import service_operations, surveys, work_orders
from store.tables import customers, stores, vehicles

LINK_PREFIX = "/survey/"  # the customer's page (api/console/templates/survey.html); it calls /api/v1/surveys/{token}


class SurveyAnswered(Conflict):
    code = "survey_answered"


def token_hash(token: str) -> str:
    """Return the stored form of a survey token."""
    return hashlib.sha256(token.encode()).hexdigest()


def send_survey(conn: Connection, *, work_order_id: int, store_id: int, vehicle_id: int, at: datetime) -> str:
    """Create the survey of a closed work order and emit survey.sent; return the link path (shown once)."""
    customer = conn.execute(
        select(customers.c.id, customers.c.preferred_language)
        .join(vehicles, vehicles.c.customer_id == customers.c.id)
        .where(vehicles.c.id == vehicle_id)
    ).first()
    language = "zh" if customer is None else customer.preferred_language
    token = secrets.token_urlsafe(32)
    survey_id = conn.scalar(
        insert(surveys)
        .values(
            work_order_id=work_order_id, store_id=store_id, token_hash=token_hash(token), language=language, sent_at=at
        )
        .returning(surveys.c.id)
    )
    link = LINK_PREFIX + token
    payload = {
        "survey_id": survey_id,
        "work_order_id": work_order_id,
        "vehicle_id": vehicle_id,
        "customer_id": None if customer is None else customer.id,
        "language": language,
        "link_path": link,
    }
    emit(conn, store_id=store_id, event_type="survey.sent", subject_id=int(survey_id), payload=payload)
    return link


def result_of(conn: Connection, *, work_order_id: int) -> SurveyResultOut | None:
    """Return the survey of a work order as the store sees it, or None if none was sent."""
    row = conn.execute(select(surveys).where(surveys.c.work_order_id == work_order_id)).first()
    if row is None:
        return None
    return SurveyResultOut.model_validate({k: row._mapping[k] for k in SurveyResultOut.model_fields})


def _by_token(conn: Connection, token: str, *, lock: bool = False) -> Any:
    query = select(surveys).where(surveys.c.token_hash == token_hash(token))
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound("no such survey")
    return row


def public_view(conn: Connection, *, token: str) -> SurveyView:
    """Return what the customer's survey page shows; raise NotFound for an unknown token."""
    survey = _by_token(conn, token)
    row = conn.execute(
        select(stores.c.name.label("store_name"), vehicles.c.make, vehicles.c.model, vehicles.c.year,
               service_operations.c.op_code, service_operations.c.name_en, service_operations.c.name_zh)
        .select_from(work_orders)
        .join(stores, stores.c.id == work_orders.c.store_id)
        .join(vehicles, vehicles.c.id == work_orders.c.vehicle_id)
        .outerjoin(service_operations, service_operations.c.op_code == work_orders.c.op_code)
        .where(work_orders.c.id == survey.work_order_id)
    ).one()  # fmt: skip
    language = survey.language
    operation = None
    if row.op_code is not None:
        operation = SurveyOperation(op_code=row.op_code, name=row.name_en if language == "en" else row.name_zh)
    return SurveyView(
        store_name=row.store_name,
        language=language,
        vehicle=SurveyVehicle(make=row.make, model=row.model, year=row.year),
        operation=operation,
        questions=[QuestionOut(id=q.id, kind=q.kind, text=q.text, min=q.min, max=q.max) for q in questions(language)],
        answered=survey.answered_at is not None,
    )


def answer(conn: Connection, *, token: str, body: AnswerIn, now: datetime | None = None) -> AnswerOut:
    """Record the customer's answer once and emit survey.answered; a second answer raises SurveyAnswered."""
    survey = _by_token(conn, token, lock=True)
    if survey.answered_at is not None:
        raise SurveyAnswered(
            "this survey has already been answered", details={"answered_at": survey.answered_at.isoformat()}
        )
    at = now or datetime.now(UTC)
    comment = body.comment.strip() if body.comment and body.comment.strip() else None
    conn.execute(
        update(surveys).where(surveys.c.id == survey.id).values(score=body.score, comment=comment, answered_at=at)
    )
    payload = {"work_order_id": survey.work_order_id, "score": body.score, "comment": comment}
    emit(conn, store_id=survey.store_id, event_type="survey.answered", subject_id=survey.id, payload=payload)
    return AnswerOut(score=body.score, comment=comment, answered_at=at, message=thanks(survey.language))
