"""Wire protocol v1 payloads and topics."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from pydantic import ValidationError

from wire import ConfigMessage, MessageKind, TelemetryMessage, Topic, TopicError, dump_message
from wire.topics import shared_filter
from wire.v1 import StatusMessage

EXAMPLE = {
    "v": 1,
    "device_id": "dongle-00042",
    "vin": "LSVAU2180N2183294",
    "seq": 1207,
    "samples": [
        {
            "ts": "2026-11-26T08:15:02.250Z",
            "pids": {
                "RPM": 812.5,
                "COOLANT_TEMP": 88,
                "ELM_VOLTAGE": 14.1,
                "MONITOR_MISFIRE_CYLINDER_1.MISFIRE_COUNT": 0,
                "O2_B1S2": None,
            },
        }
    ],
}


def test_documented_example_parses_and_round_trips() -> None:
    message = TelemetryMessage.model_validate_json(orjson.dumps(EXAMPLE))
    assert message.samples[0].ts == datetime(2026, 11, 26, 8, 15, 2, 250_000, tzinfo=UTC)
    assert message.samples[0].pids["O2_B1S2"] is None
    assert TelemetryMessage.model_validate_json(dump_message(message)) == message


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("v",), 2),
        (("vin",), "LSVAU2180N218329"),
        (("vin",), "LSVAU2180N218329O"),
        (("seq",), -1),
        (("device_id",), "bad id"),
        (("samples",), []),
        (("extra",), 1),
    ],
)
def test_invalid_fields_are_refused(path: tuple[str, ...], value: object) -> None:
    body = {**EXAMPLE, path[0]: value}
    with pytest.raises(ValidationError):
        TelemetryMessage.model_validate_json(orjson.dumps(body))


@pytest.mark.parametrize("reading", [True, "812", [1], {"a": 1}])
def test_readings_must_be_numbers_or_null(reading: object) -> None:
    body = {**EXAMPLE, "samples": [{"ts": "2026-11-26T08:15:02Z", "pids": {"RPM": reading}}]}
    with pytest.raises(ValidationError):
        TelemetryMessage.model_validate_json(orjson.dumps(body))


@pytest.mark.parametrize("raw", [b'{"RPM": NaN}', b'{"RPM": Infinity}', b'{"rpm": 1}', b'{"RPM;DROP": 1}'])
def test_non_finite_numbers_and_bad_pid_names_are_refused(raw: bytes) -> None:
    payload = orjson.dumps({**EXAMPLE, "samples": []}).replace(
        b'"samples":[]', b'"samples":[{"ts":"2026-11-26T08:15:02Z","pids":' + raw + b"}]"
    )
    with pytest.raises(ValidationError):
        TelemetryMessage.model_validate_json(payload)


def test_timestamps_need_an_offset() -> None:
    body = {**EXAMPLE, "samples": [{"ts": "2026-11-26T08:15:02", "pids": {}}]}
    with pytest.raises(ValidationError):
        TelemetryMessage.model_validate_json(orjson.dumps(body))


def test_sample_and_size_limits() -> None:
    sample = EXAMPLE["samples"][0]  # type: ignore[index]
    with pytest.raises(ValidationError):
        TelemetryMessage.model_validate_json(orjson.dumps({**EXAMPLE, "samples": [sample] * 1001}))
    assert (
        len(TelemetryMessage.model_validate_json(orjson.dumps({**EXAMPLE, "samples": [sample] * 1000})).samples) == 1000
    )


def test_status_text_may_not_carry_control_characters() -> None:
    with pytest.raises(ValidationError):
        StatusMessage(v=1, device_id="d1", online=True, ts=datetime.now(UTC), adapter="ELM327\x00v1.5")


def test_config_defaults() -> None:
    config = ConfigMessage.model_validate_json(b'{"v": 1}')
    assert (config.sample_interval_s, config.dtc_interval_s, config.pids) == (1.0, 300.0, [])


def test_topics_round_trip_and_refuse_other_shapes() -> None:
    topic = Topic("dongle-00042", MessageKind.TELEMETRY)
    assert str(topic) == "pitcall/v1/dev/dongle-00042/telemetry"
    assert Topic.parse(str(topic)) == topic
    assert Topic.parse("fleet/x/dev/d1/dtc", prefix="fleet/x").kind is MessageKind.DTC
    for bad in (
        "pitcall/v1/dev/d1",
        "pitcall/v1/dev/d1/telemetry/x",
        "pitcall/v2/dev/d1/telemetry",
        "pitcall/v1/dev/d1/gps",
        "pitcall/v1/dev/bad id/telemetry",
    ):
        with pytest.raises(TopicError):
            Topic.parse(bad)
    assert shared_filter(MessageKind.STATUS, group="g") == "$share/g/pitcall/v1/dev/+/status"
