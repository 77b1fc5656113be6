"""Rules of a customer's contact details, without I/O."""

from __future__ import annotations

import re
from enum import StrEnum

PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 -]{4,30}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Language(StrEnum):
    ZH = "zh"
    EN = "en"


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    WECHAT = "wechat"
    PHONE = "phone"


class ContactError(ValueError):
    """Contact details that cannot reach the customer on their preferred channel."""


def check_reachable(*, channel: Channel, phone: str | None, email: str | None, wechat_id: str | None) -> None:
    """Raise ContactError unless the preferred channel has the detail it needs."""
    needed = {Channel.SMS: phone, Channel.PHONE: phone, Channel.EMAIL: email, Channel.WECHAT: wechat_id}[channel]
    if not needed:
        field = {Channel.SMS: "phone", Channel.PHONE: "phone", Channel.EMAIL: "email", Channel.WECHAT: "wechat_id"}
        raise ContactError(f"preferred channel {channel} needs {field[channel]}")


def phone_digits(text: str) -> str:
    """Return the digits of a phone number as typed, for searching."""
    return re.sub(r"\D", "", text)
