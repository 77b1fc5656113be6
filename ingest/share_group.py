"""Who else is in ingest's share group? Mosquitto 2.0 cannot tell (no `$SYS` topic and no admin API lists
the members of a shared subscription), so ingest finds out by experiment.

Every `canary_interval_s` a worker publishes `count` canary messages on each device topic kind of the
reserved device id `pitcall-canary` (`{prefix}/dev/pitcall-canary/{telemetry,dtc,status}`). The broker
deals them to the members of the share group like any device's message. A pitcall worker that gets one
acknowledges it and echoes it, with its own client id, to the sender's echo topic
`{prefix}/ingest/canary/{sender client id}`. After `canary_timeout_s` the sender counts, per kind, the
distinct members that answered and the canaries nobody answered. Unanswered canaries mean a member that
is not a working pitcall worker: a foreign subscriber (what the subscription plugin prevents), a worker
stopped with its session kept, or one stalled behind a full inbox. Pure: the adapter moves the bytes.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field

import orjson

from wire import MessageKind, Topic
from wire.topics import CANARY_DEVICE_ID

CANARY_KINDS = (MessageKind.TELEMETRY, MessageKind.DTC, MessageKind.STATUS)


def canary_topics(prefix: str) -> dict[MessageKind, str]:
    return {kind: str(Topic(CANARY_DEVICE_ID, kind, prefix)) for kind in CANARY_KINDS}


def echo_topic(prefix: str, client_id: str) -> str:
    return f"{prefix}/ingest/canary/{client_id}"


def is_canary(topic: str, prefix: str) -> bool:
    return topic.startswith(f"{prefix}/dev/{CANARY_DEVICE_ID}/")


def canary_payload(*, sender: str, round_no: int, index: int) -> bytes:
    return orjson.dumps({"canary": sender, "round": round_no, "n": index})


def echo_payload(canary: bytes, *, kind: str, echoer: str) -> tuple[str, bytes] | None:
    """The sender's client id and the echo of a canary; None for bytes that are not one of ours."""
    try:
        body = orjson.loads(canary)
        sender, round_no, index = str(body["canary"]), int(body["round"]), int(body["n"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    return sender, orjson.dumps({"round": round_no, "n": index, "kind": kind, "by": echoer})


@dataclass(frozen=True, slots=True)
class RoundResult:
    kind: str
    sent: int
    answered: int
    members: int  # distinct workers that answered

    @property
    def unanswered(self) -> int:
        return self.sent - self.answered


@dataclass
class ShareGroupProbe:
    """Rounds of canaries sent by one worker and the echoes that came back."""

    count: int
    round_no: int = 0
    _echoes: dict[tuple[int, str], dict[int, str]] = field(default_factory=lambda: defaultdict(dict))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_round(self) -> int:
        self.round_no += 1
        return self.round_no

    def record_echo(self, payload: bytes) -> None:
        """Note an echo (from the MQTT thread); malformed ones are ignored."""
        try:
            body = orjson.loads(payload)
            key, index, by = (int(body["round"]), str(body["kind"])), int(body["n"]), str(body["by"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return
        with self._lock:
            if key[0] == self.round_no:  # late echoes of earlier rounds are not counted
                self._echoes[key][index] = by

    def results(self, round_no: int) -> list[RoundResult]:
        """What came back for a round, per kind (and forget it)."""
        out = []
        for kind in CANARY_KINDS:
            with self._lock:
                answers = self._echoes.pop((round_no, str(kind)), {})
            answered = {n: by for n, by in answers.items() if 0 <= n < self.count}
            out.append(RoundResult(str(kind), self.count, len(answered), len(set(answered.values()))))
        return out
