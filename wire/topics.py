"""Topic names of wire protocol v1: `{prefix}/dev/{device_id}/{kind}`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_PREFIX = "pitcall/v1"
DEVICE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Broker usernames and client ids of pitcall's own services (pitcall-ingest, pitcall-ingest-<host>,
# pitcall-api, the ingest canary) start with this: no device may be called so (any letter case).
SERVICE_NAME_PREFIX = "pitcall"
CANARY_DEVICE_ID = f"{SERVICE_NAME_PREFIX}-canary"  # ingest's share-group canaries (ingest/share_group.py)


def is_reserved_name(device_id: str) -> bool:
    """Tell whether an id belongs to pitcall's services and is therefore refused as a device id."""
    return device_id.lower().startswith(SERVICE_NAME_PREFIX)


class TopicError(ValueError):
    """A topic that is not a wire protocol v1 device topic."""


class MessageKind(StrEnum):
    TELEMETRY = "telemetry"
    DTC = "dtc"
    STATUS = "status"
    CONFIG = "config"
    ACK = "ack"


@dataclass(frozen=True, slots=True)
class Topic:
    device_id: str
    kind: MessageKind
    prefix: str = DEFAULT_PREFIX

    def __str__(self) -> str:
        return f"{self.prefix}/dev/{self.device_id}/{self.kind}"

    @classmethod
    def parse(cls, topic: str, *, prefix: str = DEFAULT_PREFIX) -> Topic:
        """Parse a device topic; raise TopicError for anything else."""
        head = f"{prefix}/dev/"
        if not topic.startswith(head):
            raise TopicError(f"topic {topic!r} is not under {head!r}")
        parts = topic[len(head) :].split("/")
        if len(parts) != 2:
            raise TopicError(f"topic {topic!r} is not {head}{{device_id}}/{{kind}}")
        device_id, kind = parts
        if not DEVICE_ID_PATTERN.match(device_id):
            raise TopicError(f"device id {device_id!r} in topic is not valid")
        try:
            return cls(device_id=device_id, kind=MessageKind(kind), prefix=prefix)
        except ValueError as exc:
            raise TopicError(f"unknown message kind {kind!r}") from exc


def device_filter(kind: MessageKind, *, prefix: str = DEFAULT_PREFIX) -> str:
    """Return the subscription filter for one kind of message from every device."""
    return f"{prefix}/dev/+/{kind}"


def shared_filter(kind: MessageKind, *, group: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Return a shared-subscription filter so that workers of one group split the messages."""
    return f"$share/{group}/{device_filter(kind, prefix=prefix)}"
