"""Bodies of the customer routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.customers.rules import EMAIL_PATTERN, PHONE_PATTERN, Channel, Language

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32, pattern=PHONE_PATTERN.pattern)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=EMAIL_PATTERN.pattern)]
WechatId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]

_EXAMPLE: dict[str, Any] = {
    "name": "王芳",
    "phone": "13812345678",
    "preferred_language": "zh",
    "preferred_channel": "wechat",
    "wechat_id": "wangfang_88",
    "consent_proactive_contact": True,
    "consent_telematics": True,
}


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    store_id: int | None = Field(None, description="required only for a caller who sees several stores")
    name: Name
    phone: Phone | None = None
    email: Email | None = None
    preferred_language: Language = Language.ZH
    preferred_channel: Channel = Channel.SMS
    wechat_id: WechatId | None = None
    consent_proactive_contact: bool = Field(False, description="may the store contact them about alerts")
    consent_telematics: bool = Field(False, description="may a dongle in their car send data to pitcall")


class CustomerPatch(BaseModel):
    """Only the fields sent change; null clears phone, email or wechat_id."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"preferred_language": "en"}, {"consent_proactive_contact": False}]},
    )

    name: Name | None = None
    phone: Phone | None = None
    email: Email | None = None
    preferred_language: Language | None = None
    preferred_channel: Channel | None = None
    wechat_id: WechatId | None = None
    consent_proactive_contact: bool | None = None
    consent_telematics: bool | None = None


class CustomerOut(BaseModel):
    id: int
    store_id: int
    name: str
    phone: str | None
    email: str | None
    preferred_language: Language
    preferred_channel: Channel
    wechat_id: str | None
    consent_proactive_contact: bool
    consent_telematics: bool
    created_at: datetime


class VehicleBrief(BaseModel):
    id: int
    vin: str
    make: str
    model: str
    year: int
    device_id: str | None = Field(description="the active device bound to the vehicle, if any")


class CustomerDetail(CustomerOut):
    vehicles: list[VehicleBrief]
