"""Customer messages in Chinese and English for every customer-facing event."""

from __future__ import annotations

from dataclasses import replace

import pytest

from api.notifications.templates import MessageContext, TemplateError, render

BOOKING = {"starts_at": "2026-12-01T01:30:00+00:00", "vehicle_id": 3, "operation": "BAT-TEST-REPLACE"}


def _context(language: str, *, vehicle: str | None = "VW Lavida", operation_name: str | None = None) -> MessageContext:
    name = "李先生" if language == "zh" else "Mr Li"
    return MessageContext(
        language=language, store_name="浦东4S店", customer_name=name, vehicle=vehicle, operation_name=operation_name
    )


def test_booking_confirmed_in_chinese_shows_local_time_and_service() -> None:
    message = render("booking.confirmed", BOOKING, _context("zh", operation_name="蓄电池检测与更换"))
    assert message.subject == "【浦东4S店】预约成功"
    assert "李先生您好" in message.body
    assert "2026年12月1日 09:30" in message.body  # 01:30 UTC is 09:30 in Shanghai
    assert "蓄电池检测与更换" in message.body
    assert "VW Lavida" in message.body


def test_booking_confirmed_in_english() -> None:
    message = render("booking.confirmed", BOOKING, _context("en", operation_name="Battery test and replacement"))
    assert message.subject == "浦东4S店: appointment confirmed"
    assert message.body.startswith("Dear Mr Li,")
    assert "1 Dec 2026, 09:30" in message.body
    assert "(Battery test and replacement)" in message.body


def test_booking_time_follows_the_store_time_zone() -> None:
    context = MessageContext(language="en", store_name="S", customer_name="Ann", timezone="Europe/Berlin")
    assert "1 Dec 2026, 02:30" in render("booking.proposed", BOOKING, context).body


@pytest.mark.parametrize("language", ["zh", "en"])
def test_proposal_asks_for_confirmation(language: str) -> None:
    body = render("booking.proposed", BOOKING, _context(language)).body
    assert ("请回复确认" if language == "zh" else "Please reply to confirm") in body


@pytest.mark.parametrize(
    ("language", "part", "days"),
    [("zh", "蓄电池", "约12天内"), ("en", "battery", "within about 12 days")],
)
def test_proactive_alert_names_the_part_and_urgency(language: str, part: str, days: str) -> None:
    message = render("alert.raised", {"mode": "battery", "days_to_failure": 11.6}, _context(language))
    assert part in message.body
    assert days in message.body


def test_alert_without_estimate_or_vehicle_still_reads_well() -> None:
    message = render("alert.raised", {"mode": "misfire", "days_to_failure": None}, _context("en", vehicle=None))
    assert "the ignition of your car needs a check." in message.body


@pytest.mark.parametrize("language", ["zh", "en"])
def test_survey_links_when_a_url_is_given(language: str) -> None:
    with_link = render("survey.sent", {"url": "https://s.example.com/x1"}, _context(language)).body
    without = render("survey.sent", {}, _context(language)).body
    assert "https://s.example.com/x1" in with_link
    assert "1" in without and "10" in without


def test_unrenderable_events_raise_template_error() -> None:
    with pytest.raises(TemplateError, match="starts_at"):
        render("booking.confirmed", {}, _context("zh"))
    with pytest.raises(TemplateError, match="time zone"):
        render("booking.confirmed", {"starts_at": "2026-12-01T09:30:00"}, _context("zh"))
    with pytest.raises(TemplateError, match="no customer template"):
        render("work_order.closed", {}, _context("zh"))
    with pytest.raises(TemplateError, match="language"):
        render("survey.sent", {}, _context("fr"))


def test_survey_link_is_built_from_the_public_url_and_the_link_path() -> None:
    context = MessageContext(
        language="en", store_name="Store A", customer_name="Ann", public_url="https://svc.example.com/"
    )
    message = render("survey.sent", {"link_path": "/api/v1/surveys/abc"}, context)
    assert "https://svc.example.com/api/v1/surveys/abc" in message.body
    without = render("survey.sent", {"link_path": "/api/v1/surveys/abc"}, replace(context, public_url=None))
    assert "replying with a score" in without.body
