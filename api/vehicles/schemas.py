"""Bodies of the vehicle, telemetry and device routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.vehicles.rules import Bucket, Source, VehicleRuleError, normalize_vin
from wire.topics import DEVICE_ID_PATTERN

_VIN_EXAMPLE = "LSVAU2180N2183294"


class VehicleIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"vin": _VIN_EXAMPLE, "make": "Volkswagen", "model": "Lavida", "year": 2022, "customer_id": 7}]
        },
    )

    store_id: int | None = Field(None, description="required only for a caller who sees several stores")
    customer_id: int | None = Field(None, description="the owner: a customer of the same store")
    vin: str = Field(description="17 characters, no I, O or Q; stored upper-case", examples=[_VIN_EXAMPLE])
    make: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=64)
    year: int = Field(ge=1980, le=2100)
    engine: str = Field("", max_length=64, examples=["1.5L EA211"])

    @field_validator("vin")
    @classmethod
    def _vin(cls, value: str) -> str:
        try:
            return normalize_vin(value)
        except VehicleRuleError as exc:
            raise ValueError(str(exc)) from exc


class VehiclePatch(BaseModel):
    """Only the fields sent change; `customer_id: null` unbinds the owner. The VIN never changes."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"customer_id": 7}, {"customer_id": None, "year": 2021}]}
    )

    customer_id: int | None = None
    make: str | None = Field(None, min_length=1, max_length=64)
    model: str | None = Field(None, min_length=1, max_length=64)
    year: int | None = Field(None, ge=1980, le=2100)
    engine: str | None = Field(None, max_length=64)


class VehicleOut(BaseModel):
    id: int
    store_id: int
    customer_id: int | None
    vin: str
    make: str
    model: str
    year: int
    engine: str
    created_at: datetime
    device_id: str | None = Field(description="the active device bound to the vehicle, if any")


class LatestReading(BaseModel):
    pid: str = Field(examples=["COOLANT_TEMP"])
    value: float = Field(description="in python-OBD's default unit for the PID")
    ts: datetime = Field(description="time of the sample this value comes from")


class LatestOut(BaseModel):
    vehicle_id: int
    sample_at: datetime | None = Field(description="the newest sample in the lookback; null when none")
    lookback_from: datetime = Field(description="samples older than this were not considered")
    readings: list[LatestReading] = Field(description="one per PID, sorted by name; nulls (no answer) skipped")


class SeriesPoint(BaseModel):
    start: datetime = Field(description="start of the bucket")
    avg: float
    min: float
    max: float
    count: int = Field(description="number of samples in the bucket")


class SeriesOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    vehicle_id: int
    pid: str
    bucket: Bucket
    source: Source = Field(description="rollup: hourly rollups re-bucketed; raw: the samples themselves")
    start: datetime = Field(alias="from", description="range actually covered (rollup ranges are whole hours)")
    end: datetime = Field(alias="to")
    points: list[SeriesPoint] = Field(description="buckets with data, oldest first (empty buckets are left out)")


class DtcEventOut(BaseModel):
    ts: datetime
    device_id: str
    mil: bool = Field(description="check-engine lamp on")
    stored: list[str]
    pending: list[str]
    permanent: list[str]
    freeze_frame: dict[str, Any] | None


class DeviceOut(BaseModel):
    device_id: str
    store_id: int
    vehicle_id: int
    vin: str
    state: str = Field(description="active or revoked")
    created_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None = Field(description="data time of the newest message ingest stored")
    last_seq: int | None


class DeviceStatusOut(DeviceOut):
    revoked: bool
    online: bool = Field(description="as the device last reported (see status_at); false once revoked")
    status_at: datetime | None = Field(description="time of the device's last status message")
    agent_version: str | None
    adapter: str | None
    protocol: str | None
    buffer_depth: int | None = Field(description="samples waiting in the dongle's buffer at status_at")


class ProvisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}, {"device_id": "dongle-00042"}]})

    device_id: str | None = Field(
        None,
        pattern=DEVICE_ID_PATTERN.pattern,
        description="the dongle's own id if it has one printed; otherwise pitcall issues one",
    )


class ProvisionedOut(DeviceOut):
    secret: str = Field(description="the MQTT password: shown once, only its hash is stored")
    mqtt_username: str = Field(description="log in with username = client id = device_id")
