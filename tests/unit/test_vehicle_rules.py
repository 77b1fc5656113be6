"""Vehicle and customer rules without a database: VINs, PID names, series plans, reachable contacts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from api.customers.rules import Channel, ContactError, check_reachable
from api.vehicles.rules import (
    Bucket,
    Source,
    VehicleRuleError,
    ceil_hour,
    floor_hour,
    normalize_pid,
    normalize_vin,
    plan_series,
)

T0 = datetime(2026, 11, 2, tzinfo=UTC)
SHANGHAI = timezone(timedelta(hours=8))


@pytest.mark.parametrize("vin", ["LSVAU2180N2183294", " lsvau2180n2183294 "])
def test_vin_is_normalized(vin: str) -> None:
    assert normalize_vin(vin) == "LSVAU2180N2183294"


@pytest.mark.parametrize("vin", ["LSVAU2180N218329", "LSVAU2180N21832945", "LSVAU2180N2I83294", "LSVAU2180NO183294",
                                 "LSVAU2180N21Q3294", "LSVAU2180N2-83294"])  # fmt: skip
def test_vin_refused(vin: str) -> None:
    with pytest.raises(VehicleRuleError):
        normalize_vin(vin)


def test_pid_names_are_python_obd_commands() -> None:
    assert normalize_pid("coolant_temp") == "COOLANT_TEMP"
    assert normalize_pid("MONITOR_MISFIRE_CYLINDER_1") == "MONITOR_MISFIRE_CYLINDER_1"
    for bad in ("NOT_A_PID", "COOLANT TEMP", "", "__class__", "X" * 65):
        with pytest.raises(VehicleRuleError, match="unknown PID"):
            normalize_pid(bad)


def test_hour_buckets_read_the_rollup_over_whole_hours() -> None:
    plan = plan_series(pid="RPM", start=T0 + timedelta(minutes=30), end=T0 + timedelta(hours=2, seconds=1),
                       bucket=Bucket.HOUR)  # fmt: skip
    assert plan.source is Source.ROLLUP and not plan.local_days
    assert (plan.start, plan.end) == (T0, T0 + timedelta(hours=3))
    assert plan_series(pid="RPM", start=T0, end=T0 + timedelta(days=30), bucket=Bucket.DAY).local_days


def test_small_buckets_read_raw_samples_over_at_most_a_week() -> None:
    start = datetime(2026, 11, 2, 8, 7, tzinfo=SHANGHAI)
    plan = plan_series(pid="RPM", start=start, end=start + timedelta(days=7), bucket=Bucket.MINUTE)
    assert plan.source is Source.RAW and plan.start == start  # raw ranges are exact
    with pytest.raises(VehicleRuleError, match="at most 7 days"):
        plan_series(pid="RPM", start=start, end=start + timedelta(days=7, seconds=1), bucket=Bucket.FIVE_MINUTES)


def test_refused_ranges() -> None:
    with pytest.raises(VehicleRuleError, match="before"):
        plan_series(pid="RPM", start=T0, end=T0, bucket=Bucket.HOUR)
    with pytest.raises(VehicleRuleError, match="time zone"):
        plan_series(pid="RPM", start=datetime(2026, 11, 1), end=T0, bucket=Bucket.HOUR)
    with pytest.raises(VehicleRuleError, match="buckets"):
        plan_series(pid="RPM", start=T0, end=T0 + timedelta(days=421), bucket=Bucket.HOUR)
    assert plan_series(pid="RPM", start=T0, end=T0 + timedelta(days=5 * 365), bucket=Bucket.DAY)


def test_hour_rounding_is_in_utc() -> None:
    half_past = datetime(2026, 11, 2, 8, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))  # 03:00 UTC
    assert floor_hour(half_past) == ceil_hour(half_past) == datetime(2026, 11, 2, 3, tzinfo=UTC)
    assert ceil_hour(T0 + timedelta(microseconds=1)) == T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("channel", "contact"),
    [(Channel.SMS, "phone"), (Channel.PHONE, "phone"), (Channel.EMAIL, "email"), (Channel.WECHAT, "wechat_id")],
)
def test_preferred_channel_needs_its_contact(channel: Channel, contact: str) -> None:
    details = {"phone": "13812345678", "email": "a@b.cn", "wechat_id": "wx1"}
    check_reachable(channel=channel, **details)
    with pytest.raises(ContactError, match=contact):
        check_reachable(channel=channel, **{**details, contact: None})
