"""Bodies of the survey routes (the public ones show only what the customer needs to answer)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator


class SurveyResultOut(BaseModel):
    """The survey as the store sees it on the work order."""

    language: str
    sent_at: datetime
    score: int | None
    comment: str | None
    answered_at: datetime | None


class SurveyVehicle(BaseModel):
    make: str
    model: str
    year: int


class SurveyOperation(BaseModel):
    op_code: str
    name: str = Field(description="in the survey's language")


class QuestionOut(BaseModel):
    id: str
    kind: str = Field(description="scale (min..max) or text")
    text: str
    min: int | None
    max: int | None


class SurveyView(BaseModel):
    """What the customer's survey page shows: nothing about the customer or other work."""

    store_name: str
    language: str
    vehicle: SurveyVehicle
    operation: SurveyOperation | None
    questions: list[QuestionOut]
    answered: bool


class AnswerIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"score": 9, "comment": "接待很专业，等待时间稍长"}]})

    score: int = Field(ge=1, le=10)
    comment: str | None = Field(None, max_length=2000)

    @field_validator("comment")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        return value


class AnswerOut(BaseModel):
    score: int
    comment: str | None
    answered_at: datetime
    message: str = Field(description="a thank-you line in the survey's language")
