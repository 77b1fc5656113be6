"""Rules of the vehicles domain without I/O: VINs, PID names and how a telemetry series is read.

A series asks for one PID of one vehicle over `[start, end)` in buckets of a chosen width. Buckets of
an hour or more are re-bucketed from the hourly rollup (the range widened to whole hours, which is
what the rollup holds); smaller ones are aggregated from the raw samples, only over a short range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import obd

VIN_PATTERN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
RAW_RANGE_MAX = timedelta(days=7)
POINTS_MAX = 10_080  # a week of minutes
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class VehicleRuleError(ValueError):
    """A request that breaks a rule of the domain (the API answers 422 with the message)."""


class Bucket(StrEnum):
    """Widths a series can be bucketed by."""

    MINUTE = "1m"
    FIVE_MINUTES = "5m"
    FIFTEEN_MINUTES = "15m"
    HOUR = "1h"
    SIX_HOURS = "6h"
    DAY = "1d"
    WEEK = "1w"

    @property
    def width(self) -> timedelta:
        """Return the bucket's width."""
        return _WIDTHS[self]


_WIDTHS = {
    Bucket.MINUTE: timedelta(minutes=1),
    Bucket.FIVE_MINUTES: timedelta(minutes=5),
    Bucket.FIFTEEN_MINUTES: timedelta(minutes=15),
    Bucket.HOUR: HOUR,
    Bucket.SIX_HOURS: timedelta(hours=6),
    Bucket.DAY: DAY,
    Bucket.WEEK: timedelta(days=7),
}


class Source(StrEnum):
    ROLLUP = "rollup"
    RAW = "raw"


@dataclass(frozen=True, slots=True)
class SeriesPlan:
    """Where and over which exact range a series is read."""

    pid: str
    start: datetime
    end: datetime
    bucket: Bucket
    source: Source
    local_days: bool  # buckets of a day or more follow the store's calendar, not UTC

    @property
    def width(self) -> timedelta:
        return self.bucket.width


def normalize_vin(vin: str) -> str:
    """Return the VIN upper-cased; raise VehicleRuleError unless it is 17 characters without I, O or Q."""
    candidate = vin.strip().upper()
    if len(candidate) != 17:
        raise VehicleRuleError(f"a VIN has 17 characters, not {len(candidate)}")
    if not VIN_PATTERN.match(candidate):
        raise VehicleRuleError("a VIN has only digits and letters other than I, O and Q")
    return candidate


def normalize_pid(pid: str) -> str:
    """Return the python-OBD command name for `pid`; raise VehicleRuleError for a name python-OBD lacks."""
    name = pid.strip().upper()
    if not re.fullmatch(r"[A-Z0-9_]{1,64}", name) or not obd.commands.has_name(name):
        raise VehicleRuleError("unknown PID: use a python-OBD command name such as COOLANT_TEMP or RPM")
    return name


def plan_series(*, pid: str, start: datetime, end: datetime, bucket: Bucket) -> SeriesPlan:
    """Check a series request and decide its source and exact range; raise VehicleRuleError if refused."""
    name = normalize_pid(pid)
    if start.tzinfo is None or end.tzinfo is None:
        raise VehicleRuleError("from and to need a time zone (ISO 8601, e.g. 2026-11-01T00:00:00+08:00)")
    if start >= end:
        raise VehicleRuleError("from must be before to")
    if bucket.width < HOUR:
        if end - start > RAW_RANGE_MAX:
            raise VehicleRuleError(f"buckets under 1h cover at most {RAW_RANGE_MAX.days} days; use 1h or wider")
        source = Source.RAW
    else:
        start, end = floor_hour(start), ceil_hour(end)
        source = Source.ROLLUP
    if (end - start) / bucket.width > POINTS_MAX:
        raise VehicleRuleError(f"at most {POINTS_MAX} buckets per series; choose a wider bucket or a shorter range")
    return SeriesPlan(name, start, end, bucket, source, local_days=bucket.width >= DAY)


def floor_hour(at: datetime) -> datetime:
    """Return the start of the UTC hour `at` falls in."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def ceil_hour(at: datetime) -> datetime:
    """Return `at` if it starts an hour, else the start of the next hour."""
    floor = floor_hour(at)
    return floor if floor == at else floor + HOUR
