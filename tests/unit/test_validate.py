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


TELEMETRY = {
    "v": 1,
    "device_id": "d1",
    "vin": "LSVAU2180N2183294",
    "seq": 1,
    "samples": [{"ts": "2026-11-26T11:59:00Z", "pids": {"RPM": 800}}],
}
DTC = {
    "v": 1,
    "device_id": "d1",
    "vin": "LSVAU2180N2183294",
    "seq": 2,
    "ts": "2026-11-26T11:59:00+08:00",
    "mil": True,
    "stored": ["P0301"],
    "pending": [],
}
STATUS = {"v": 1, "device_id": "d1", "online": True, "ts": "2026-11-26T11:59:00Z", "buffer_depth": 3}
SAMPLE_TS = ("samples", 0, "ts")


def _with(body: dict[str, object], path: tuple[str | int, ...], value: object) -> dict[str, object]:
    copy = orjson.loads(orjson.dumps(body))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("kind", "body", "path", "value", "expected"),
    [
        ("telemetry", TELEMETRY, ("seq",), "1", "seq"),
        ("telemetry", TELEMETRY, ("seq",), 1.0, "seq"),
        ("telemetry", TELEMETRY, ("seq",), True, "seq"),
        ("telemetry", TELEMETRY, ("v",), 1.0, "v"),
        ("telemetry", TELEMETRY, ("v",), "1", "v"),
        ("telemetry", TELEMETRY, ("v",), True, "v"),
        ("telemetry", TELEMETRY, SAMPLE_TS, 1795694340, "samples.0.ts"),
        ("telemetry", TELEMETRY, SAMPLE_TS, 1795694340.25, "samples.0.ts"),
        ("telemetry", TELEMETRY, SAMPLE_TS, "1795694340", "samples.0.ts"),
        ("telemetry", TELEMETRY, SAMPLE_TS, "2026-11-26", "samples.0.ts"),
        ("telemetry", TELEMETRY, SAMPLE_TS, "2026-11-26T11:59:00", "samples.0.ts"),
        ("telemetry", TELEMETRY, ("samples", 0, "pids", "RPM"), "800", "samples.0.pids.RPM"),
        ("telemetry", TELEMETRY, ("samples", 0, "pids", "RPM"), True, "samples.0.pids.RPM"),
        ("telemetry", TELEMETRY, ("vin",), 12345678901234567, "vin"),
        ("dtc", DTC, ("mil",), "yes", "mil"),
        ("dtc", DTC, ("mil",), 1, "mil"),
        ("dtc", DTC, ("mil",), "true", "mil"),
        ("dtc", DTC, ("ts",), 1795694340, "ts"),
        ("dtc", DTC, ("seq",), "2", "seq"),
        ("dtc", DTC, ("stored",), "P0301", "stored"),
        ("status", STATUS, ("online",), "yes", "online"),
        ("status", STATUS, ("online",), 0, "online"),
        ("status", STATUS, ("buffer_depth",), "3", "buffer_depth"),
        ("status", STATUS, ("buffer_depth",), 3.0, "buffer_depth"),
        ("status", STATUS, ("ts",), "1795694340", "ts"),
        ("status", STATUS, ("agent_version",), 1, "agent_version"),
    ],
)
def test_mistyped_fields_are_schema_errors_not_coerced(
    kind: str, body: dict[str, object], path: tuple[str | int, ...], value: object, expected: str
) -> None:
    """Issue 18: lax parsing accepted "seq": "1", 1.0, epoch timestamps and "mil": "yes" (54 of 234 mistyped)."""
    verdict = parse(f"pitcall/v1/dev/d1/{kind}", orjson.dumps(_with(body, path, value)), prefix="pitcall/v1",
                    limits=LIMITS)  # fmt: skip
    assert isinstance(verdict, Rejected), f"{path}={value!r} was accepted"
    assert verdict.reason == "schema"
    assert verdict.detail.startswith(f"{expected}:"), verdict.detail


@pytest.mark.parametrize("body", [TELEMETRY, DTC, STATUS])
def test_well_typed_messages_still_parse(body: dict[str, object]) -> None:
    kind = {id(TELEMETRY): "telemetry", id(DTC): "dtc", id(STATUS): "status"}[id(body)]
    assert isinstance(parse(f"pitcall/v1/dev/d1/{kind}", orjson.dumps(body), prefix="pitcall/v1", limits=LIMITS),
                      Parsed)  # fmt: skip
