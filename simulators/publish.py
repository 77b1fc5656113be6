"""Publish wire-protocol messages to a broker with paho-mqtt (QoS 1, waits for every PUBACK)."""

from __future__ import annotations

from collections.abc import Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from wire import MessageKind, Topic, dump_message
from wire.v1 import DtcMessage, StatusMessage, TelemetryMessage


class PublishError(RuntimeError):
    """The broker did not take a message."""


def topic_for(message: TelemetryMessage | DtcMessage | StatusMessage, *, prefix: str) -> str:
    kind = {
        TelemetryMessage: MessageKind.TELEMETRY,
        DtcMessage: MessageKind.DTC,
        StatusMessage: MessageKind.STATUS,
    }[type(message)]
    return str(Topic(message.device_id, kind, prefix))


class Publisher:
    """One MQTT connection that publishes QoS 1 messages and can wait until all are acknowledged."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        max_inflight: int = 1000,
    ) -> None:
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if username:
            self._client.username_pw_set(username, password)
        self._client.max_inflight_messages_set(max_inflight)
        self._client.max_queued_messages_set(0)
        self._pending: list[mqtt.MQTTMessageInfo] = []
        self._client.connect(host, port, keepalive=30)
        self._client.loop_start()

    def publish_raw(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise PublishError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
        self._pending.append(info)
        if len(self._pending) >= 10_000:
            self.flush()

    def publish(
        self, messages: Iterable[TelemetryMessage | DtcMessage | StatusMessage], *, prefix: str = "pitcall/v1"
    ) -> int:
        count = 0
        for message in messages:
            self.publish_raw(topic_for(message, prefix=prefix), dump_message(message))
            count += 1
        return count

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait until the broker acknowledged everything published so far."""
        for info in self._pending:
            info.wait_for_publish(timeout=timeout_s)
            if not info.is_published():
                raise PublishError(f"message {info.mid} not acknowledged within {timeout_s}s")
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        self._client.disconnect()
        self._client.loop_stop()
