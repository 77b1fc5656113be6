"""The ingest verdict for each kind of input, in the documented order of checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from ingest.validate import Accepted, DeviceRecord, Limits, Parsed, Rejected, authorize, parse

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DEVICES = {
    "d1": DeviceRecord("d1", 1, "LSVAU2180N2183294", active=True),
    "d2": DeviceRecord("d2", 2, "LSVAU2180N2183295", active=False),
}
LIMITS = Limits()


def _telemetry(device: str = "d1", vin: str = "LSVAU2180N2183294", ts: datetime = NOW) -> bytes:
    return orjson.dumps(
        {
            "v": 1,
            "device_id": device,
            "vin": vin,
            "seq": 1,
            "samples": [{"ts": ts.isoformat(), "pids": {"RPM": 800}}],
        }
    )


def _verdict(topic: str, payload: bytes) -> Accepted | Rejected:
    parsed = parse(topic, payload, prefix="pitcall/v1", limits=LIMITS)
    return parsed if isinstance(parsed, Rejected) else authorize(parsed, devices=DEVICES, now=NOW, limits=LIMITS)


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("pitcall/v1/dev/d1/telemetry", b"{" * 10, "not_json"),
        ("pitcall/v1/dev/d1/telemetry", b"\xff\xfe", "not_json"),
        ("pitcall/v1/dev/d1/telemetry", b'{"v": 1}', "schema"),
        ("pitcall/v1/dev/d1/telemetry", b"[" + b" " * (256 * 1024) + b"]", "too_large"),
        ("pitcall/v1/dev/d1/config", b'{"v": 1}', "unknown_topic"),
        ("pitcall/v1/dev/d9/telemetry", _telemetry("d9"), "unknown_device"),
        ("pitcall/v1/dev/d2/telemetry", _telemetry("d2", "LSVAU2180N2183295"), "revoked_device"),
        ("pitcall/v1/dev/d1/telemetry", _telemetry(vin="LSVAU2180N2183295"), "vin_mismatch"),
        ("pitcall/v1/dev/d2/telemetry", _telemetry("d1"), "topic_device_mismatch"),
        (
            "pitcall/v1/dev/d1/telemetry",
            _telemetry(ts=NOW - timedelta(days=30, seconds=1)),
            "ts_out_of_range",
        ),
        (
            "pitcall/v1/dev/d1/telemetry",
            _telemetry(ts=NOW + timedelta(minutes=5, seconds=1)),
            "ts_out_of_range",
        ),
    ],
)
def test_rejections_name_their_reason(topic: str, payload: bytes, reason: str) -> None:
    verdict = _verdict(topic, payload)
    assert isinstance(verdict, Rejected)
    assert verdict.reason == reason
    assert verdict.detail


@pytest.mark.parametrize("ts", [NOW - timedelta(days=29, hours=23), NOW + timedelta(minutes=4, seconds=59)])
def test_edges_of_the_time_window_are_accepted(ts: datetime) -> None:
    verdict = _verdict("pitcall/v1/dev/d1/telemetry", _telemetry(ts=ts))
    assert isinstance(verdict, Accepted)
    assert verdict.device.vehicle_id == 1


def test_max_sample_age_is_configurable() -> None:
    parsed = parse(
        "pitcall/v1/dev/d1/telemetry",
        _telemetry(ts=NOW - timedelta(days=40)),
        prefix="pitcall/v1",
        limits=LIMITS,
    )
    assert isinstance(parsed, Parsed)
    verdict = authorize(parsed, devices=DEVICES, now=NOW, limits=Limits(max_sample_age=timedelta(days=60)))
    assert isinstance(verdict, Accepted)


def test_schema_detail_names_the_field() -> None:
    verdict = _verdict(
        "pitcall/v1/dev/d1/telemetry",
        orjson.dumps({"v": 1, "device_id": "d1", "vin": "LSVAU2180N2183294", "seq": "x", "samples": []}),
    )
    assert isinstance(verdict, Rejected)
    assert "seq" in verdict.detail and "samples" in verdict.detail
