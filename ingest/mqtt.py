"""The broker side of ingest: one paho-mqtt client in its own thread, behind a small interface.

Contract: every delivery is handed to `on_delivery` (from paho's thread) and stays unacknowledged
until `ack` is called after the rows are committed. The client uses an MQTT 5 persistent session
(clean start off, no session expiry) and announces `receive_maximum`, so the broker never has more
than that many unacknowledged messages in flight to us, and when the database stalls the broker keeps
the rest in the session. Acks for deliveries from an earlier connection are not sent: the broker
redelivers those messages on the new connection.

`confirm` publishes the end-to-end acknowledgements (wire protocol `ack` topic) after a commit.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest.rows import Delivery
from ingest.share_group import canary_payload, canary_topics, echo_payload, echo_topic, is_canary
from wire import AckMessage, MessageKind, Topic, dump_message
from wire.v1 import MAX_ACK_SEQS

log = logging.getLogger(__name__)
NEVER_EXPIRE = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class AckHandle:
    mid: int
    generation: int


@dataclass(frozen=True, slots=True)
class BrokerOptions:
    host: str
    port: int
    client_id: str
    username: str | None
    password: str | None
    filters: Sequence[str]
    receive_maximum: int = 2000
    keepalive_s: int = 30
    tls_ca_file: str | None = None
    tls: bool = False
    ack_prefix: str | None = None  # the topic prefix of end-to-end acks; None sends none
    max_inflight_out: int = 1000  # our own QoS 1 publishes (acks) awaiting the broker's PUBACK
    canary_prefix: str | None = None  # answer (and send) share-group canaries under this prefix; None: off


class MqttSource:
    """Receive QoS 1 messages on a persistent session and acknowledge them on request."""

    def __init__(
        self,
        options: BrokerOptions,
        *,
        on_delivery: Callable[[Delivery], object],
        on_ready: Callable[[bool], None] = lambda ready: None,
        on_echo: Callable[[bytes], None] = lambda payload: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._options = options
        self._on_delivery = on_delivery
        self._on_ready = on_ready
        self._on_echo = on_echo
        self._clock = clock
        self._generation = 0
        self._lock = threading.Lock()
        self._taking = True
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._options.client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        if self._options.username:
            client.username_pw_set(self._options.username, self._options.password)
        if self._options.tls or self._options.tls_ca_file:
            client.tls_set(ca_certs=self._options.tls_ca_file, cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(self._options.max_inflight_out)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_subscribe = self._handle_subscribe
        return client

    def start(self) -> None:
        """Connect in the background; paho reconnects by itself with backoff."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = NEVER_EXPIRE
        properties.ReceiveMaximum = self._options.receive_maximum
        self._client.connect_async(
            self._options.host,
            self._options.port,
            keepalive=self._options.keepalive_s,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()

    def stop_taking(self) -> None:
        """Stop handing on new deliveries; they stay unacknowledged and the broker keeps them."""
        self._taking = False

    def ack(self, handles: Sequence[object]) -> int:
        """Acknowledge committed deliveries, in the order received; return how many were sent."""
        sent = 0
        with self._lock:
            for handle in handles:
                if isinstance(handle, AckHandle) and handle.generation == self._generation:
                    self._client.ack(handle.mid, 1)
                    sent += 1
        return sent

    def confirm(self, seqs_by_device: dict[str, list[int]]) -> None:
        """Publish end-to-end acks (QoS 1): these devices' messages are committed. No-op without `ack_prefix`."""
        prefix = self._options.ack_prefix
        if prefix is None:
            return
        for device_id, seqs in seqs_by_device.items():
            topic = str(Topic(device_id, MessageKind.ACK, prefix))
            for start in range(0, len(seqs), MAX_ACK_SEQS):
                payload = dump_message(AckMessage(v=1, seqs=seqs[start : start + MAX_ACK_SEQS]))
                self._client.publish(topic, payload, qos=1)

    def send_canaries(self, round_no: int, count: int) -> None:
        """Publish `count` canaries on each kind's canary topic (ingest/share_group.py)."""
        if self._options.canary_prefix is None:
            return
        for topic in canary_topics(self._options.canary_prefix).values():
            for index in range(count):
                payload = canary_payload(sender=self._options.client_id, round_no=round_no, index=index)
                self._client.publish(topic, payload, qos=1)

    def _answer_canary(self, message: mqtt.MQTTMessage, topic: str, prefix: str) -> None:
        """Acknowledge a canary at once (it is not data) and echo it to its sender."""
        if message.qos > 0:
            self._client.ack(message.mid, message.qos)
        echo = echo_payload(bytes(message.payload), kind=topic.rsplit("/", 1)[-1], echoer=self._options.client_id)
        if echo is not None:
            sender, payload = echo
            self._client.publish(echo_topic(prefix, sender), payload, qos=0)

    def close(self) -> None:
        """Disconnect cleanly (the session and anything unacknowledged stay with the broker)."""
        self._client.disconnect()
        self._client.loop_stop()

    def _handle_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: object,
        reason: ReasonCode,
        _properties: object,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused connection", extra={"reason": str(reason)})
            return
        with self._lock:
            self._generation += 1
        options = SubscribeOptions(qos=1, retainHandling=1)
        filters = [(topic, options) for topic in self._options.filters]
        if self._options.canary_prefix is not None:
            filters.append((echo_topic(self._options.canary_prefix, self._options.client_id), SubscribeOptions(qos=0)))
        client.subscribe(filters)
        log.info("connected to broker", extra={"host": self._options.host, "port": self._options.port})

    def _handle_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: object,
    ) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:
            log.error("subscription refused", extra={"reasons": failed})
        else:
            self._on_ready(True)
            log.info("subscribed", extra={"filters": list(self._options.filters)})

    def _handle_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: object,
        reason: ReasonCode,
        _properties: object,
    ) -> None:
        with self._lock:
            self._generation += 1
        self._on_ready(False)
        log.warning("disconnected from broker", extra={"reason": str(reason)})

    def _handle_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        if not self._taking:
            return
        handle = AckHandle(message.mid, self._generation) if message.qos > 0 else None
        try:
            topic = message.topic
        except UnicodeDecodeError:  # brokers refuse such topics; keep the bytes readable anyway
            topic = bytes(message._topic).decode("utf-8", errors="replace")
        prefix = self._options.canary_prefix
        if prefix is not None and topic == echo_topic(prefix, self._options.client_id):
            self._on_echo(bytes(message.payload))
            return
        if prefix is not None and is_canary(topic, prefix):
            self._answer_canary(message, topic, prefix)
            return
        self._on_delivery(Delivery(topic=topic, payload=bytes(message.payload), received_at=self._clock(), ack=handle))
