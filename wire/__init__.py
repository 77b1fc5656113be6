"""Wire protocol v1: the MQTT payloads and topics that edge agent, ingest and simulators share."""

from wire.topics import DEFAULT_PREFIX, MessageKind, Topic, TopicError
from wire.v1 import (
    MAX_MESSAGE_BYTES,
    MAX_SAMPLES,
    PID_NAME_PATTERN,
    AckMessage,
    ConfigMessage,
    DtcMessage,
    FreezeFrame,
    Sample,
    StatusMessage,
    TelemetryMessage,
    dump_message,
)

__all__ = [
    "DEFAULT_PREFIX",
    "MAX_MESSAGE_BYTES",
    "MAX_SAMPLES",
    "PID_NAME_PATTERN",
    "AckMessage",
    "ConfigMessage",
    "DtcMessage",
    "FreezeFrame",
    "MessageKind",
    "Sample",
    "StatusMessage",
    "TelemetryMessage",
    "Topic",
    "TopicError",
    "dump_message",
]
