"""The agent's MQTT side: one paho client, publishing as the device, with a last will.

Contract: `publish` hands paho a QoS 1 message and returns its message id; `acked()` returns the ids
the broker has acknowledged since the last call (collected from paho's thread). With `end_to_end`,
the uplink also subscribes to the device's `ack` topic and `confirmed()` returns the seqs ingest has
committed since the last call. The caller deletes buffered data only on one of those (which one is
the agent's `ack_mode`). Retained config messages arrive through `configs()`.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
from dataclasses import dataclass
from typing import Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from wire import AckMessage, ConfigMessage, MessageKind, Topic, dump_message
from wire.v1 import StatusMessage

log = logging.getLogger(__name__)


class UplinkError(Exception):
    """The message could not be handed to the MQTT client."""


@dataclass(frozen=True, slots=True)
class UplinkOptions:
    device_id: str
    secret: str | None
    host: str
    port: int
    prefix: str
    tls: bool = False
    ca_file: str | None = None
    keepalive_s: int = 30
    max_inflight: int = 20
    end_to_end: bool = False


class UplinkPort(Protocol):
    """What the agent needs of its MQTT side (the Uplink below; a fake in unit tests)."""

    connected: threading.Event

    def start(self) -> None: ...
    def stop(self, *, flush_timeout_s: float = 2.0) -> None: ...
    def publish(self, kind: MessageKind, payload: bytes, *, retain: bool = False) -> int: ...
    def acked(self) -> list[int]: ...
    def confirmed(self) -> list[int]: ...
    def configs(self) -> list[ConfigMessage]: ...


class Uplink:
    def __init__(self, options: UplinkOptions, *, offline_status: StatusMessage) -> None:
        self._options = options
        self._acked: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._configs: queue.SimpleQueue[ConfigMessage] = queue.SimpleQueue()
        self._confirmed: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.connected = threading.Event()
        self._last: mqtt.MQTTMessageInfo | None = None
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=options.device_id, clean_session=True)
        if options.secret:
            client.username_pw_set(options.device_id, options.secret)
        if options.tls or options.ca_file:
            client.tls_set(ca_certs=options.ca_file, cert_reqs=ssl.CERT_REQUIRED)
        client.will_set(self.topic(MessageKind.STATUS), dump_message(offline_status), qos=1, retain=True)
        client.max_inflight_messages_set(options.max_inflight)
        client.reconnect_delay_set(min_delay=1, max_delay=120)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self._client = client

    def topic(self, kind: MessageKind) -> str:
        return str(Topic(self._options.device_id, kind, self._options.prefix))

    def start(self) -> None:
        """Connect in the background; paho reconnects with backoff by itself."""
        self._client.connect_async(self._options.host, self._options.port, keepalive=self._options.keepalive_s)
        self._client.loop_start()

    def stop(self, *, flush_timeout_s: float = 2.0) -> None:
        """Give the last published message a moment to leave, then disconnect cleanly."""
        if self._last is not None and self.connected.is_set():
            self._last.wait_for_publish(timeout=flush_timeout_s)
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, kind: MessageKind, payload: bytes, *, retain: bool = False) -> int:
        """Queue a QoS 1 message; return its id (acknowledged later through `acked`)."""
        info = self._client.publish(self.topic(kind), payload, qos=1, retain=retain)
        self._last = info
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise UplinkError(f"publish refused by the client: {mqtt.error_string(info.rc)}")
        return int(info.mid)

    def acked(self) -> list[int]:
        ids = []
        while not self._acked.empty():
            ids.append(self._acked.get_nowait())
        return ids

    def confirmed(self) -> list[int]:
        """Return the seqs ingest confirmed as committed since the last call (end-to-end acks)."""
        seqs = []
        while not self._confirmed.empty():
            seqs.append(self._confirmed.get_nowait())
        return seqs

    def configs(self) -> list[ConfigMessage]:
        out = []
        while not self._configs.empty():
            out.append(self._configs.get_nowait())
        return out

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        if reason.is_failure:
            log.error("broker refused the connection", extra={"reason": str(reason)})
            return
        kinds = (MessageKind.CONFIG, MessageKind.ACK) if self._options.end_to_end else (MessageKind.CONFIG,)
        client.subscribe([(self.topic(kind), 1) for kind in kinds])
        self.connected.set()
        log.info("connected to broker", extra={"host": self._options.host})

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        self.connected.clear()
        log.warning("disconnected from broker", extra={"reason": str(reason)})

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, _reason: ReasonCode, _p: object) -> None:
        self._acked.put(mid)

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        if message.topic == self.topic(MessageKind.ACK):
            try:
                for seq in AckMessage.model_validate_json(message.payload).seqs:
                    self._confirmed.put(seq)
            except ValidationError as exc:
                log.error("ignoring an invalid ack message", extra={"error": str(exc)[:500]})
            return
        try:
            self._configs.put(ConfigMessage.model_validate_json(message.payload))
        except ValidationError as exc:
            log.error("ignoring an invalid config message", extra={"error": str(exc)[:500]})
