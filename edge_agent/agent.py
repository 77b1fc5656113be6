"""The agent's coordinator: owns timing and I/O around the schedule, the disk queue and the uplink.

Each cycle: read what the schedule says is due (a failing adapter means backing off and
reconnecting, never a crash or a busy loop), write it to the disk queue, then hand the broker the
live tail and, within a rate limit, the oldest backlog. Data leaves the queue only when the message
that carried it is acknowledged: by ingest once committed (`ack_mode = "end_to_end"`, the default:
safe whatever the broker loses) or by the broker's PUBACK (`"broker"`, for an ingest without acks).
Unacknowledged messages are re-sent after `ack_timeout_s`, and at once after a reconnection in
end-to-end mode (the broker may have crashed and lost what it had acknowledged).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from edge_agent import __version__
from edge_agent.buffer import BufferedSample, DiskBuffer, Priority
from edge_agent.obd_link import AdapterUnavailableError, CarInfo, DtcSnapshot, ObdLink
from edge_agent.schedule import ParkedWatch, Schedule
from edge_agent.settings import AgentSettings
from edge_agent.uplink import UplinkPort
from wire import MessageKind, dump_message
from wire.pids import MISFIRE_MONITORS
from wire.v1 import DtcMessage, Sample, StatusMessage, TelemetryMessage

log = logging.getLogger(__name__)
STATUS_EVERY_S = 60.0
MAX_IN_FLIGHT_MESSAGES = 50
QUIET_CYCLES = 5
CRANK_SAMPLE_S = 0.05  # 20 Hz during a crank: real adapters answer ATRV in 20-50 ms


@dataclass
class InFlight:
    """A published message (by seq) and the queue rows it carries."""

    mid: int
    samples: list[int]
    events: list[int]
    sent_at: float
    broker_acked: bool = False


@dataclass
class Agent:
    settings: AgentSettings
    link: ObdLink
    buffer: DiskBuffer
    uplink: UplinkPort
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    car: CarInfo | None = None
    schedule: Schedule | None = None
    in_flight: dict[int, InFlight] = field(default_factory=dict)  # by seq
    _seq_by_mid: dict[int, int] = field(default_factory=dict)
    _was_connected: bool = False
    last_dtcs: DtcSnapshot | None = None
    _retry_at: float = 0.0
    _retry_delay: float = 1.0
    _backlog_tokens: float = 0.0
    _last_pump: float = 0.0
    _last_status: float = -STATUS_EVERY_S
    parked: ParkedWatch | None = None
    _next_parked_poll: float = 0.0
    _silent_cycles: int = 0
    _live_after: int | None = None  # samples with a higher id are live; older ones are backlog
    _backlog_cursor: int = 0  # the backlog has been handed over up to this sample id
    _backlog_end: int = 0  # the backlog ends here; later samples were sent live

    def run(self, stop: threading.Event) -> None:
        """Run cycles until `stop` is set."""
        self.uplink.start()
        try:
            while not stop.is_set():
                self.cycle()
                stop.wait(self._sleep_for())
        finally:
            self._drain()
            if self.uplink.connected.is_set():
                self._publish_status(online=False)
            self.uplink.stop()
            self.link.close()

    def cycle(self) -> None:
        now = self.monotonic()
        if self.car is None and now >= self._retry_at:
            self._connect(now)
        try:
            if self.car is not None and self.car.car_on and self.schedule is not None:
                self._read(now, self.schedule)
            elif self.car is not None:
                self._watch_parked(now)
        except AdapterUnavailableError as exc:
            log.warning("adapter lost; reconnecting", extra={"error": str(exc)})
            self.car = None
            self._back_off(now)
        self._pump(now)

    def _drain(self, timeout_s: float = 3.0) -> None:
        """On stop, send what is queued and wait briefly for the acks; the rest waits on disk."""
        deadline = self.monotonic() + timeout_s
        while self.uplink.connected.is_set() and self.monotonic() < deadline:
            self._pump(self.monotonic())
            if not self.in_flight and self.buffer.depth() == 0:
                return
            time.sleep(0.05)

    def _connect(self, now: float) -> None:
        try:
            self.car = self.link.connect()
        except AdapterUnavailableError as exc:
            log.warning("no adapter or car", extra={"error": str(exc), "retry_in_s": self._retry_delay})
            self._back_off(now)
            return
        self._retry_delay = 1.0
        self._last_status = -STATUS_EVERY_S
        if not self.car.car_on:
            self.schedule = None
            self.parked = self.parked or ParkedWatch(
                resting_interval_s=self.settings.parked_voltage_interval_s, probe_interval_s=self.settings.car_probe_s
            )
            log.info("car off: watching the battery", extra={"adapter": self.car.adapter})
            return
        self.parked = None
        self._silent_cycles = 0
        self.schedule = Schedule(
            supported=self.car.supported,
            sample_interval_s=self.settings.sample_interval_s,
            dtc_interval_s=self.settings.dtc_interval_s,
            monitor_delay_s=self.settings.monitor_delay_s,
        )
        log.info(
            "car connected",
            extra={
                "adapter": self.car.adapter,
                "protocol": self.car.protocol,
                "vin": self.car.vin,
                "supported": len(self.car.supported),
            },
        )

    def _back_off(self, now: float) -> None:
        self._retry_at = now + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, self.settings.reconnect_max_s)

    def _read(self, now: float, schedule: Schedule) -> None:
        reads = schedule.due(now)
        if reads.pids:
            ts = self.wall()
            values = self.link.read(reads.pids)
            if self._car_went_quiet(values, now):
                return
            self.buffer.append_sample(ts, values, priority=Priority.FAST if reads.fast else Priority.SLOW)
            if schedule.observe(values, now):
                log.info("engine start")
        if reads.dtc:
            self._check_dtcs()
        if reads.monitors:
            monitors = self.link.read_monitors(MISFIRE_MONITORS)
            if monitors:
                self.buffer.append_sample(self.wall(), monitors, priority=Priority.SLOW)

    def _car_went_quiet(self, values: dict[str, float | None], now: float) -> bool:
        """Five cycles with no ECU answer at all: the ignition is off; look again (and watch the battery)."""
        answered = any(v is not None for k, v in values.items() if k != "ELM_VOLTAGE")
        self._silent_cycles = 0 if answered else self._silent_cycles + 1
        if self._silent_cycles < QUIET_CYCLES:
            return False
        log.info("the car stopped answering")
        self.car, self._retry_at = None, now
        return True

    def _watch_parked(self, now: float) -> None:
        if self.parked is None or now < self._next_parked_poll:
            return
        self._next_parked_poll = now + self.settings.parked_poll_s
        voltage = self.link.read_voltage()
        actions = self.parked.observe(voltage, now)
        if actions.record_resting:
            self.buffer.append_sample(self.wall(), {"ELM_VOLTAGE": voltage}, priority=Priority.SLOW)
        if actions.crank:
            self._capture_crank(voltage)
        if actions.crank or actions.probe_car:
            self.car, self._retry_at = None, now  # reconnect at once: the car may be awake

    def _capture_crank(self, first: float | None) -> None:
        """Sample the battery as fast as the adapter answers for a few seconds: the cranking dip."""
        log.info("engine cranking: capturing the battery dip", extra={"volts": first})
        self.buffer.append_sample(self.wall(), {"ELM_VOLTAGE": first}, priority=Priority.SLOW)
        until = self.monotonic() + self.settings.crank_capture_s
        while self.monotonic() < until:
            next_read = self.monotonic() + CRANK_SAMPLE_S
            self.buffer.append_sample(self.wall(), {"ELM_VOLTAGE": self.link.read_voltage()}, priority=Priority.SLOW)
            time.sleep(max(0.0, next_read - self.monotonic()))

    def _check_dtcs(self) -> None:
        snapshot = self.link.read_dtcs()
        if snapshot == self.last_dtcs:
            return
        known = set(self.last_dtcs.stored) if self.last_dtcs else set()
        self.last_dtcs = snapshot
        body: dict[str, object] = {
            "ts": self.wall().isoformat(),
            "mil": snapshot.mil,
            "stored": list(snapshot.stored),
            "pending": list(snapshot.pending),
            "permanent": list(snapshot.permanent),
        }
        new_codes = [code for code in snapshot.stored if code not in known]
        if new_codes:
            frame = {k: v for k, v in self.link.read_freeze_frame().items() if v is not None}
            body["freeze_frame"] = {"dtc": new_codes[0], "pids": frame} if frame else None
        self.buffer.append_event(orjson.dumps(body))

    def _pump(self, now: float) -> None:
        self._settle()
        self._apply_configs()
        connected = self.uplink.connected.is_set()
        reconnected, self._was_connected = connected and not self._was_connected, connected
        end_to_end = self.settings.ack_mode == "end_to_end"
        self._expire_in_flight(now, everything=reconnected and end_to_end)
        vin = self.settings.vin or (self.car.vin if self.car else None)
        if connected and now - self._last_status >= STATUS_EVERY_S:
            self._publish_status(online=True)
            self._last_status = now
        if not connected or vin is None:
            self._live_after = self._backlog_end = self.buffer.last_sample_id()  # what piles up meanwhile is backlog
            self._last_pump = now
            return
        self._send_events(vin, now)
        self._send_live(vin, now)
        self._send_backlog(vin, now)

    def _settle(self) -> None:
        """Delete the queue rows of acknowledged messages: on ingest's ack in end-to-end mode, else on PUBACK."""
        end_to_end = self.settings.ack_mode == "end_to_end"
        for mid in self.uplink.acked():
            seq = self._seq_by_mid.pop(mid, None)
            flight = self.in_flight.get(seq) if seq is not None else None
            if flight is not None and flight.mid == mid:
                flight.broker_acked = True
                if not end_to_end:
                    self._done(flight, seq)
        for seq in self.uplink.confirmed():
            flight = self.in_flight.get(seq)
            if flight is not None and end_to_end:
                self._done(flight, seq)

    def _done(self, flight: InFlight, seq: int | None) -> None:
        if seq is not None:
            self.in_flight.pop(seq, None)
        self._seq_by_mid.pop(flight.mid, None)
        self.buffer.acknowledge(samples=flight.samples, events=flight.events)

    def _track(self, seq: int, mid: int, *, samples: list[int], events: list[int], now: float) -> None:
        self.in_flight[seq] = InFlight(mid, samples, events, now)
        self._seq_by_mid[mid] = seq

    def _send_live(self, vin: str, now: float) -> None:
        """Send the samples taken since the last pump, ahead of any backlog."""
        if self._live_after is None:  # at start, everything already queued is backlog
            self._live_after = self._backlog_end = self.buffer.last_sample_id()
        live = self.buffer.samples_after(self._live_after, limit=self.settings.max_samples_per_message)
        if live:
            self._send_samples(live, vin, now)
            self._live_after = live[-1].id

    def _send_backlog(self, vin: str, now: float) -> None:
        """Send the oldest unsent samples, `backlog_messages_per_s` messages a second at most."""
        rate = self.settings.backlog_messages_per_s
        self._backlog_tokens = min(self._backlog_tokens + (now - self._last_pump) * rate, rate)
        self._last_pump = now
        upto = self._backlog_end
        while self._backlog_tokens >= 1 and len(self.in_flight) < MAX_IN_FLIGHT_MESSAGES:
            batch = self.buffer.samples_after(
                self._backlog_cursor, limit=self.settings.max_samples_per_message, upto=upto
            )
            if not batch:
                break
            self._send_samples(batch, vin, now)
            self._backlog_cursor = batch[-1].id
            self._backlog_tokens -= 1

    def _apply_configs(self) -> None:
        for config in self.uplink.configs():
            self.settings.sample_interval_s = config.sample_interval_s
            self.settings.dtc_interval_s = config.dtc_interval_s
            if self.schedule is not None:
                self.schedule.configure(
                    sample_interval_s=config.sample_interval_s, dtc_interval_s=config.dtc_interval_s, pids=config.pids
                )
            log.info("config applied", extra={"sample_interval_s": config.sample_interval_s})

    def _send_samples(self, batch: list[BufferedSample], vin: str, now: float) -> None:
        if not batch:
            return
        message = TelemetryMessage(
            v=1,
            device_id=self.settings.device_id,
            vin=vin,
            seq=self.buffer.next_seq(),
            samples=[Sample(ts=s.ts, pids=s.readings) for s in batch],
        )
        mid = self.uplink.publish(MessageKind.TELEMETRY, dump_message(message))
        self._track(message.seq, mid, samples=[s.id for s in batch], events=[], now=now)

    def _send_events(self, vin: str, now: float) -> None:
        busy = {i for flight in self.in_flight.values() for i in flight.events}
        for event in self.buffer.oldest_events(10, skip=busy):
            body = orjson.loads(event.body)
            message = DtcMessage(v=1, device_id=self.settings.device_id, vin=vin, seq=self.buffer.next_seq(), **body)
            mid = self.uplink.publish(MessageKind.DTC, dump_message(message))
            self._track(message.seq, mid, samples=[], events=[event.id], now=now)

    def _publish_status(self, *, online: bool) -> None:
        status = StatusMessage(
            v=1,
            device_id=self.settings.device_id,
            online=online,
            ts=self.wall(),
            agent_version=__version__,
            adapter=self.car.adapter if self.car else None,
            protocol=self.car.protocol if self.car else None,
            buffer_depth=self.buffer.depth(),
        )
        self.uplink.publish(MessageKind.STATUS, dump_message(status), retain=True)

    def _expire_in_flight(self, now: float, *, everything: bool = False) -> None:
        """Forget messages not acknowledged in time (or all of them): their data is sent again (ingest
        de-duplicates)."""
        timeout = self.settings.ack_timeout_s
        for seq in [q for q, f in self.in_flight.items() if everything or now - f.sent_at > timeout]:
            expired = self.in_flight.pop(seq)
            self._seq_by_mid.pop(expired.mid, None)
            if expired.samples:
                self._backlog_cursor = min(self._backlog_cursor, min(expired.samples) - 1)
                self._backlog_end = max(self._backlog_end, max(expired.samples))

    def _sleep_for(self) -> float:
        if self.schedule is None:
            return 0.5
        return max(0.01, min(0.25, self.schedule.next_due() - self.monotonic()))
