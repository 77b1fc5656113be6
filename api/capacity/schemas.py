"""Bodies of the capacity routes: technicians and shifts, bays, opening hours, settings, operations, stock."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema, field_validator, model_validator

LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"


def _wall_clock(moment: time) -> time:
    if moment.tzinfo is not None:
        raise ValueError(
            "a local wall-clock time in the store's time zone, without an offset or Z (e.g. 08:30:00):"
            " a time of day has no fixed offset where daylight saving applies"
        )
    return moment


LocalTime = Annotated[
    time,
    AfterValidator(_wall_clock),
    WithJsonSchema({"type": "string", "pattern": LOCAL_TIME_PATTERN, "examples": ["08:30:00"]}),
]
"""A time of day in the store's time zone (naive); an offset is refused with 422, never converted."""


class DayHours(BaseModel):
    """Local wall-clock hours of one ISO weekday (1 = Monday) in the store's time zone."""

    weekday: int = Field(ge=1, le=7, examples=[1])
    starts_at: LocalTime = Field(examples=["08:30:00"])
    ends_at: LocalTime = Field(examples=["18:00:00"])

    @model_validator(mode="after")
    def _ordered(self) -> DayHours:
        if self.starts_at >= self.ends_at:
            raise ValueError("starts_at must be before ends_at (a shift or opening lies within one day)")
        return self


def _one_per_weekday(days: list[DayHours]) -> list[DayHours]:
    weekdays = [d.weekday for d in days]
    if len(set(weekdays)) != len(weekdays):
        raise ValueError("one entry per weekday")
    return sorted(days, key=lambda d: d.weekday)


Week = Annotated[list[DayHours], AfterValidator(_one_per_weekday), Field(max_length=7)]


class WeekIn(BaseModel):
    """A whole week: the days listed replace the previous ones; a day not listed is off (or closed)."""

    days: Week


class TechnicianIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["Wang Lei"])
    skills: list[str] = Field(default_factory=list, max_length=20, examples=[["electrical", "engine"]])
    active: bool = True
    shifts: Week = Field(default_factory=list)

    @field_validator("skills")
    @classmethod
    def _skills(cls, skills: list[str]) -> list[str]:
        return _valid_skills(skills)


class TechnicianPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200, examples=["Wang Lei"])
    skills: list[str] | None = Field(None, max_length=20, examples=[["electrical", "cooling"]])
    active: bool | None = Field(None, description="an inactive technician gets no new slots")

    @field_validator("skills")
    @classmethod
    def _skills(cls, skills: list[str] | None) -> list[str] | None:
        return None if skills is None else _valid_skills(skills)


def _valid_skills(skills: list[str]) -> list[str]:
    for skill in skills:
        if not (2 <= len(skill) <= 32 and skill.replace("_", "").isalpha() and skill.islower()):
            raise ValueError(f"skill {skill!r} is not a lower-case word (e.g. electrical)")
    return sorted(set(skills))


class TechnicianOut(BaseModel):
    id: int
    store_id: int
    name: str
    skills: list[str]
    active: bool
    shifts: list[DayHours]


class BayIn(BaseModel):
    name: str = Field(min_length=1, max_length=64, examples=["bay 4"])
    active: bool = True


class BayPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=64, examples=["bay 4 (lift)"])
    active: bool | None = None


class BayOut(BaseModel):
    id: int
    store_id: int
    name: str
    active: bool


class OpeningHoursOut(BaseModel):
    store_id: int
    timezone: str = Field(examples=["Asia/Shanghai"])
    days: list[DayHours] = Field(description="open weekdays; a missing weekday is closed")


class SettingsPatch(BaseModel):
    auto_propose_critical: bool | None = Field(None, description="propose a booking for every new critical alert")
    slot_step_minutes: int | None = Field(None, ge=5, le=240, examples=[30])
    booking_horizon_days: int | None = Field(None, ge=1, le=120, examples=[21])


class SettingsOut(BaseModel):
    store_id: int
    auto_propose_critical: bool
    slot_step_minutes: int
    booking_horizon_days: int


class OperationOut(BaseModel):
    op_code: str
    name_en: str
    name_zh: str
    skill: str
    labour_hours: float
    parts: list[dict[str, Any]] = Field(examples=[[{"part_no": "BAT-12V-60AH", "qty": 1}]])
    modes: list[str] = Field(description="failure modes whose alerts recommend this operation")
    dtcs: list[str] = Field(description="DTCs that point to this operation")


class StockIn(BaseModel):
    part_no: str = Field(max_length=32, examples=["BAT-12V-60AH"])
    on_hand: int = Field(ge=0, examples=[6])
    incoming_qty: int = Field(0, ge=0, examples=[10])
    incoming_on: date | None = Field(None, description="the day the incoming quantity arrives")

    @model_validator(mode="after")
    def _dated(self) -> StockIn:
        if self.incoming_qty > 0 and self.incoming_on is None:
            raise ValueError("incoming_on is required when incoming_qty > 0")
        return self


class StockUpdate(BaseModel):
    """The parts/WMS system's figures for some parts of a store (others stay as they are)."""

    items: list[StockIn] = Field(min_length=1, max_length=500)

    @field_validator("items")
    @classmethod
    def _unique(cls, items: list[StockIn]) -> list[StockIn]:
        if len({i.part_no for i in items}) != len(items):
            raise ValueError("one entry per part")
        return items


class StockOut(BaseModel):
    store_id: int
    part_no: str
    name_en: str
    name_zh: str
    on_hand: int
    reserved: int = Field(description="held by confirmed bookings")
    available: int = Field(description="on_hand - reserved (negative: reserved against incoming parts)")
    incoming_qty: int
    incoming_on: date | None
