"""Customer message templates in Chinese and English, rendered from an event's payload (pure).

Payload fields read (docs/api/notifications.md): alert.raised `mode`, `days_to_failure`;
booking.proposed / booking.confirmed `starts_at` (ISO 8601); survey.sent `url` (optional).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

LANGUAGES = ("zh", "en")

MODE_NAMES: dict[str, tuple[str, str]] = {
    "battery": ("蓄电池", "battery"),
    "charging_system": ("充电系统", "charging system"),
    "thermostat": ("节温器", "thermostat"),
    "overheating": ("发动机冷却系统", "engine cooling"),
    "fuel_lean": ("燃油供给系统", "fuel system"),
    "misfire": ("点火系统", "ignition"),
    "catalyst": ("三元催化器", "catalytic converter"),
}


class TemplateError(ValueError):
    """The event cannot be rendered (unknown type or language, or a payload field is missing)."""


@dataclass(frozen=True, slots=True)
class MessageContext:
    """What a message needs besides the payload: who it is for and from which store."""

    language: str
    store_name: str
    customer_name: str
    timezone: str = "Asia/Shanghai"
    vehicle: str | None = None  # e.g. "VW Lavida"
    operation_name: str | None = None  # in the customer's language
    public_url: str | None = None  # base URL of pitcall's public pages, e.g. https://service.example.com


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    subject: str
    body: str


def render(event_type: str, payload: Mapping[str, Any], context: MessageContext) -> RenderedMessage:
    """Render the customer message for an event; raise TemplateError if it cannot be rendered."""
    if context.language not in LANGUAGES:
        raise TemplateError(f"no templates in language {context.language!r}")
    template = _TEMPLATES.get(event_type)
    if template is None:
        raise TemplateError(f"no customer template for {event_type}")
    zh, en = template(payload, context)
    return zh if context.language == "zh" else en


def _when(payload: Mapping[str, Any], context: MessageContext) -> tuple[str, str]:
    raw = payload.get("starts_at")
    if not isinstance(raw, str):
        raise TemplateError("the payload has no starts_at")
    try:
        at = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise TemplateError(f"starts_at {raw!r} is not ISO 8601") from exc
    if at.tzinfo is None:
        raise TemplateError(f"starts_at {raw!r} has no time zone")
    local = at.astimezone(ZoneInfo(context.timezone))
    zh = f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    en = f"{local.day} {local:%b %Y}, {local:%H:%M}"
    return zh, en


def _vehicle(context: MessageContext) -> tuple[str, str]:
    return (f"您的{context.vehicle}" if context.vehicle else "您的爱车", f"your {context.vehicle or 'car'}")


def _service(context: MessageContext) -> tuple[str, str]:
    name = context.operation_name
    return (f"（{name}）" if name else "", f" ({name})" if name else "")


_Pair = tuple[RenderedMessage, RenderedMessage]


def _alert_raised(payload: Mapping[str, Any], c: MessageContext) -> _Pair:
    mode = str(payload.get("mode", ""))
    part_zh, part_en = MODE_NAMES.get(mode, ("车辆系统", "vehicle systems"))
    car_zh, car_en = _vehicle(c)
    days = payload.get("days_to_failure")
    soon_zh = f"，预计约{round(days)}天内可能出现故障" if isinstance(days, int | float) else ""
    soon_en = f"; it may fail within about {round(days)} days" if isinstance(days, int | float) else ""
    zh = RenderedMessage(
        f"【{c.store_name}】车辆健康提醒",
        f"【{c.store_name}】{c.customer_name}您好：我们的车况监测发现{car_zh}的{part_zh}需要检查{soon_zh}。"
        f"建议您尽快预约到店检测，我们的服务顾问将与您联系安排时间。",
    )
    en = RenderedMessage(
        f"{c.store_name}: vehicle health notice",
        f"Dear {c.customer_name}, our vehicle monitoring shows that the {part_en} of {car_en} needs a check"
        f"{soon_en}. We recommend a visit soon; your service advisor will contact you to arrange a time.",
    )
    return zh, en


def _booking_proposed(payload: Mapping[str, Any], c: MessageContext) -> _Pair:
    when_zh, when_en = _when(payload, c)
    op_zh, op_en = _service(c)
    car_zh, car_en = _vehicle(c)
    zh = RenderedMessage(
        f"【{c.store_name}】预约建议",
        f"【{c.store_name}】{c.customer_name}您好：我们为{car_zh}预留了{when_zh}的保养维修时间{op_zh}。"
        f"请回复确认，或联系服务顾问更改时间。",
    )
    en = RenderedMessage(
        f"{c.store_name}: proposed service appointment",
        f"Dear {c.customer_name}, we have reserved {when_en} for {car_en}{op_en}. "
        f"Please reply to confirm, or contact your service advisor to choose another time.",
    )
    return zh, en


def _booking_confirmed(payload: Mapping[str, Any], c: MessageContext) -> _Pair:
    when_zh, when_en = _when(payload, c)
    op_zh, op_en = _service(c)
    car_zh, car_en = _vehicle(c)
    zh = RenderedMessage(
        f"【{c.store_name}】预约成功",
        f"【{c.store_name}】{c.customer_name}您好：{car_zh}的服务预约已确认{op_zh}，时间：{when_zh}。期待您的光临。",
    )
    en = RenderedMessage(
        f"{c.store_name}: appointment confirmed",
        f"Dear {c.customer_name}, your appointment for {car_en}{op_en} is confirmed for {when_en}. "
        f"We look forward to seeing you.",
    )
    return zh, en


def _survey_sent(payload: Mapping[str, Any], c: MessageContext) -> _Pair:
    url = payload.get("url")
    if not url and c.public_url and payload.get("link_path"):
        url = c.public_url.rstrip("/") + str(payload["link_path"])
    link_zh = f"：{url}" if url else "，回复1-10分即可"
    link_en = f": {url}" if url else " by replying with a score from 1 to 10"
    zh = RenderedMessage(
        f"【{c.store_name}】服务满意度调查",
        f"【{c.store_name}】{c.customer_name}您好：感谢您选择我们的服务。请为本次服务打分（1-10分）{link_zh}。",
    )
    en = RenderedMessage(
        f"{c.store_name}: how did we do?",
        f"Dear {c.customer_name}, thank you for choosing us. Please rate your service (1-10){link_en}.",
    )
    return zh, en


_TEMPLATES: dict[str, Callable[[Mapping[str, Any], MessageContext], _Pair]] = {
    "alert.raised": _alert_raised,
    "booking.proposed": _booking_proposed,
    "booking.confirmed": _booking_confirmed,
    "survey.sent": _survey_sent,
}
