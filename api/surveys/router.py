"""Public survey routes: the customer opens the link from the message and answers once.

No authentication: the token in the path is the credential (only its hash is stored). These routes
are not tenant-scoped by a principal; the token selects exactly one survey and the answer shows
nothing beyond the store's name, the vehicle's make/model/year, the operation and the questions.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.db import Db
from api.errors import ERROR_RESPONSES
from api.surveys import service
from api.surveys.schemas import AnswerIn, AnswerOut, SurveyView

router = APIRouter(tags=["surveys"], responses=ERROR_RESPONSES)


@router.get("/surveys/{token}", response_model=SurveyView, summary="Open a survey (public)")
def open_survey(token: str, db: Db) -> SurveyView:
    """Show the survey's questions in the customer's language, with the store, vehicle and operation."""
    return service.public_view(db, token=token)


@router.post("/surveys/{token}", response_model=AnswerOut, summary="Answer a survey (public, once)")
def answer_survey(token: str, body: AnswerIn, db: Db) -> AnswerOut:
    """Record the score (1-10) and comment; a second answer is refused with 409 survey_answered."""
    return service.answer(db, token=token, body=body)
