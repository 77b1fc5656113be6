"""Bodies of the store, dashboard and calendar routes (all read-only)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from api.capacity.schemas import DayHours, SettingsOut


class StoreOut(BaseModel):
    id: int
    group_id: int
    code: str = Field(examples=["SH-PUDONG-01"])
    name: str
    timezone: str = Field(examples=["Asia/Shanghai"])
    opening_hours: list[DayHours] = Field(
        description="open weekdays (1 = Monday), local times; a missing day is closed"
    )
    settings: SettingsOut


class AlertCounts(BaseModel):
    """Alerts moved into each state during the week (one alert can count in several)."""

    raised: int = Field(description="created_at in the week")
    acknowledged: int = Field(description="acknowledged_at in the week")
    booked: int = Field(description="booked_at in the week (last booking)")
    confirmed: int = Field(description="resolved with outcome confirmed, closed_at in the week")
    not_found: int = Field(description="resolved with outcome not_found, closed_at in the week")
    dismissed: int = Field(description="dismissed, closed_at in the week")


class ServiceVisits(BaseModel):
    checked_in: int = Field(description="work orders created (checked in) in the week, cancelled ones excluded")
    from_alerts: int = Field(description="of those, work orders linked to an alert")
    proactive_share: float | None = Field(description="from_alerts / checked_in; null when nothing was checked in")


class LeadTime(BaseModel):
    """Lead time of the alerts confirmed (resolved, outcome confirmed) in the week."""

    confirmed: int = Field(description="alerts confirmed in the week")
    measured: int = Field(description="of those, alerts with a work order (the lead time needs its check-in)")
    average_days: float | None = Field(description="mean of (work order check-in - first_observed_at), in days")
    median_days: float | None
    predicted_average_days: float | None = Field(
        description="mean of days_to_failure as first raised (alert.raised event; the alert's own value if missing)"
    )
    predicted_median_days: float | None


class TechnicianLoad(BaseModel):
    technician_id: int
    name: str
    booked_hours: float = Field(description="hours of confirmed, in-service and completed bookings inside the week")
    shift_hours: float = Field(description="hours of the weekly shifts expanded over the week's days")
    utilisation: float | None = Field(description="booked_hours / shift_hours; null without shifts")


class Utilisation(BaseModel):
    overall: float | None = Field(description="sum of booked hours / sum of shift hours")
    booked_hours: float
    shift_hours: float
    technicians: list[TechnicianLoad]


class SurveyScore(BaseModel):
    answered: int = Field(description="surveys answered in the week")
    average: float | None = Field(description="mean score, 1-10")
    share_9_plus: float | None = Field(description="share of answers scoring 9 or 10")


class WeekFigures(BaseModel):
    week_of: date = Field(description="the week's Monday (local date)", examples=["2026-11-23"])
    starts_at: datetime = Field(description="Monday 00:00 in the store's time zone")
    ends_at: datetime = Field(description="the next Monday 00:00 (exclusive)")
    alerts: AlertCounts
    service_visits: ServiceVisits
    lead_time: LeadTime
    utilisation: Utilisation
    survey: SurveyScore


class OpenAlertCount(BaseModel):
    mode: str = Field(examples=["battery"])
    severity: str = Field(examples=["critical"])
    count: int


class DashboardOut(BaseModel):
    store_id: int
    timezone: str
    week: WeekFigures
    previous_week: WeekFigures
    open_alerts: list[OpenAlertCount] = Field(
        description="live alerts (open, acknowledged, booked) now, by mode and severity; not tied to the week"
    )


class CalendarInterval(BaseModel):
    day: date = Field(description="local date in the store's time zone")
    starts_at: datetime
    ends_at: datetime


class CalendarTechnician(BaseModel):
    id: int
    name: str
    skills: list[str]
    active: bool
    shifts: list[CalendarInterval] = Field(description="the weekly shifts as dated intervals overlapping the range")


class CalendarBay(BaseModel):
    id: int
    name: str
    active: bool


class CalendarBooking(BaseModel):
    id: int
    state: str = Field(examples=["confirmed"])
    starts_at: datetime
    ends_at: datetime
    technician_id: int
    bay_id: int
    vehicle_id: int
    vin: str
    op_code: str
    op_name_en: str
    op_name_zh: str
    alert_id: int | None
    work_order_id: int | None = Field(description="the work order checked in from this booking, if any")


class CalendarOut(BaseModel):
    store_id: int
    timezone: str
    starts_at: datetime
    ends_at: datetime
    opening_hours: list[CalendarInterval]
    bays: list[CalendarBay]
    technicians: list[CalendarTechnician]
    bookings: list[CalendarBooking] = Field(
        description="proposed, confirmed, in-service and completed bookings overlapping the range, by start"
    )
