"""Where simulated fleets go: an MQTT broker (as the dongles would publish) or a JSONL file.

`run_history(...)` generates a fleet's history day by day in worker processes (cars split between
them), passes each car-day through `simulators.delivery`, and hands the day's items to a sink in
delivery-time order across the fleet, so ingest sees a plausible stream. `run_live(...)` publishes
"now" at 1 Hz per car for a bounded number of minutes (demos).
"""

from __future__ import annotations

import heapq
import multiprocessing
import os
import queue
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import IO, Protocol

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from simulators.climate import Weather
from simulators.delivery import Delivered, DeliveryPlan, Flaw, deliver, on_time
from simulators.history import Cadence, CarHistory
from simulators.publish import Publisher
from simulators.scenario import FleetPlan, SimCar, build_fleet
from simulators.vehicle import Readings, VehicleSim
from wire import DEFAULT_PREFIX, Topic
from wire.v1 import Sample, TelemetryMessage

console = Console(stderr=True)


class SimulationError(RuntimeError):
    """A worker process failed or vanished."""


class Sink(Protocol):
    def send(self, item: Delivered) -> None: ...

    def close(self) -> None:
        """Finish: everything sent is on the broker (acknowledged) or on disk."""


class MqttSink:
    """Publish items with QoS 1 on their wire-protocol topics; `close()` waits for every PUBACK."""

    def __init__(self, publisher: Publisher, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._publisher = publisher
        self._prefix = prefix

    @classmethod
    def connect(
        cls,
        *,
        host: str,
        port: int,
        prefix: str = DEFAULT_PREFIX,
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> MqttSink:
        client = client_id or f"pitcall-sim-{os.getpid()}"
        publisher = Publisher(host=host, port=port, client_id=client, username=username, password=password)
        return cls(publisher, prefix=prefix)

    def send(self, item: Delivered) -> None:
        self._publisher.publish_raw(str(Topic(item.device_id, item.kind, self._prefix)), item.payload)

    def close(self) -> None:
        self._publisher.close()


class JsonlSink:
    """One JSON object per line: {"topic": ..., "payload": the message, or the raw text of a malformed one}."""

    def __init__(self, path: Path, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._file: IO[bytes] = path.open("wb")
        self._prefix = prefix

    def send(self, item: Delivered) -> None:
        topic = str(Topic(item.device_id, item.kind, self._prefix))
        payload: object = (
            item.payload.decode(errors="replace") if item.flaw is Flaw.MALFORMED else orjson.Fragment(item.payload)
        )
        self._file.write(orjson.dumps({"topic": topic, "payload": payload}) + b"\n")

    def close(self) -> None:
        self._file.close()


def read_jsonl(path: Path) -> Iterator[tuple[str, bytes]]:
    """Yield (topic, payload bytes) from a JsonlSink file, for replaying it to a broker."""
    with path.open("rb") as lines:
        for line in lines:
            record = orjson.loads(line)
            payload = record["payload"]
            yield record["topic"], payload.encode() if isinstance(payload, str) else orjson.dumps(payload)


@dataclass
class HistoryStats:
    car_days: int = 0
    messages: int = 0  # produced by the dongles
    samples: int = 0
    published: int = 0  # handed to the sink: messages + duplicates + malformed
    duplicates: int = 0
    malformed: int = 0
    backlog: int = 0  # delivered late, after an offline gap
    seconds: float = 0.0

    def add(self, car_day: CarDay) -> None:
        self.car_days += 1
        self.messages += car_day.messages
        self.samples += car_day.samples
        self.published += len(car_day.items)
        for item in car_day.items:
            self.duplicates += item.flaw is Flaw.DUPLICATE
            self.malformed += item.flaw is Flaw.MALFORMED
            self.backlog += item.flaw is Flaw.BACKLOG

    def summary(self) -> str:
        rate = max(self.seconds, 1e-9)
        return (
            f"{self.car_days} car-days, {self.messages:,} messages ({self.samples:,} samples), "
            f"{self.duplicates} duplicates, {self.malformed} malformed, {self.backlog} late after offline gaps; "
            f"{self.seconds:.1f} s = {self.car_days / rate:.1f} car-days/s, {self.published / rate:,.0f} messages/s"
        )


@dataclass(frozen=True, slots=True)
class CarDay:
    day: int
    items: list[Delivered]
    messages: int
    samples: int


def car_days(plan: FleetPlan, cadence: Cadence, delivery: DeliveryPlan, indexes: list[int]) -> Iterator[CarDay]:
    """Yield the delivered history of the cars `indexes`, day by day, car by car within a day."""
    cars = build_fleet(plan)
    histories = [CarHistory(cars[i], cadence) for i in indexes]
    rngs = [random.Random(f"{plan.seed}:delivery:{i}") for i in indexes]
    for day in range(plan.days):
        when = plan.start + timedelta(days=day)
        for history, rng in zip(histories, rngs, strict=True):
            messages = history.day(when)
            samples = sum(len(m.samples) for m in messages if isinstance(m, TelemetryMessage))
            yield CarDay(day, deliver(messages, delivery, rng), len(messages), samples)


def run_history(
    plan: FleetPlan,
    cadence: Cadence,
    sink: Sink,
    *,
    delivery: DeliveryPlan | None = None,
    workers: int = 2,
    progress: bool = True,
) -> HistoryStats:
    """Send the fleet's history to `sink`, day by day, and close it. Blocks until the sink has it all."""
    delivery = delivery or DeliveryPlan()
    started = time.perf_counter()
    shares = [list(range(w, plan.vehicles, max(1, workers))) for w in range(max(1, workers))]
    shares = [share for share in shares if share]
    stats = HistoryStats()
    with _sources(plan, cadence, delivery, shares) as sources, _progress_bar(plan, enabled=progress) as advance:
        for _ in range(plan.days):
            day = _next_day(sources, shares, stats, advance)
            for item in heapq.merge(*day, key=lambda item: item.sent_at):
                sink.send(item)
        sink.close()
    stats.seconds = time.perf_counter() - started
    return stats


def _next_day(
    sources: list[Iterator[CarDay]], shares: list[list[int]], stats: HistoryStats, advance: Callable[[], None]
) -> list[list[Delivered]]:
    """Take one day of every car from the sources; return each car's items (in delivery order)."""
    day: list[list[Delivered]] = []
    for source, share in zip(sources, shares, strict=True):
        for _car in share:
            car_day = next(source)
            stats.add(car_day)
            day.append(car_day.items)
            advance()
    return day


@contextmanager
def _sources(
    plan: FleetPlan, cadence: Cadence, delivery: DeliveryPlan, shares: list[list[int]]
) -> Iterator[list[Iterator[CarDay]]]:
    """Yield one CarDay stream per share: in this process for one share, else one worker process each."""
    if len(shares) == 1:
        yield [car_days(plan, cadence, delivery, shares[0])]
        return
    context = multiprocessing.get_context("spawn")  # no fork of the sink's MQTT thread
    queues = [context.Queue(maxsize=4 * len(share)) for share in shares]
    processes = [
        context.Process(target=_worker, args=(plan, cadence, delivery, share, q), daemon=True)
        for share, q in zip(shares, queues, strict=True)
    ]
    for process in processes:
        process.start()
    try:
        yield [_from_worker(q, p) for q, p in zip(queues, processes, strict=True)]
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join(timeout=10)


def _worker(
    plan: FleetPlan, cadence: Cadence, delivery: DeliveryPlan, indexes: list[int], out: multiprocessing.Queue[object]
) -> None:
    try:
        for car_day in car_days(plan, cadence, delivery, indexes):
            out.put(car_day)
    except Exception as exc:
        out.put(SimulationError(f"worker for cars {indexes[:3]}...: {exc!r}"))
        raise


def _from_worker(source: multiprocessing.Queue[object], process: BaseProcess) -> Iterator[CarDay]:
    while True:
        try:
            got = source.get(timeout=1.0)
        except queue.Empty:
            if not process.is_alive():
                raise SimulationError(f"worker {process.pid} exited with {process.exitcode}") from None
            continue
        if isinstance(got, SimulationError):
            raise got
        assert isinstance(got, CarDay)
        yield got


@contextmanager
def _progress_bar(plan: FleetPlan, *, enabled: bool) -> Iterator[Callable[[], None]]:
    if not enabled:
        yield lambda: None
        return
    columns = (TextColumn("car-days"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("history", total=plan.vehicles * plan.days)
        yield lambda: bar.advance(task)


def live_drive(car: SimCar, *, start_day: datetime, seconds: int) -> list[Readings]:
    """Return `seconds` of the car's 1 Hz driving readings: its trips from `start_day` on, back to back."""
    sim = VehicleSim(car.spec, Weather(car.region, car.seed), list(car.faults), car.seed)
    drive: list[Readings] = []
    day = start_day.date()
    for _ in range(30):
        drive += [r.readings for r in sim.day(day, sample_every_s=1, step_s=1) if "RPM" in r.readings]
        if len(drive) >= seconds:
            return drive[:seconds]
        day += timedelta(days=1)
    raise SimulationError(f"car {car.device_id} drives less than {seconds} s in 30 days")


def run_live(
    plan: FleetPlan,
    sink: Sink,
    *,
    minutes: float,
    samples_per_message: int = 10,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> HistoryStats:
    """Publish `minutes` of 1 Hz driving per car, timestamped now, a message every `samples_per_message` s.

    Blocks for `minutes` of `clock` time, then closes the sink. `seq` starts at the Unix time of the
    first sample, so repeated runs keep increasing it."""
    started, seconds = clock().replace(microsecond=0), round(minutes * 60)
    cars = build_fleet(plan)
    drives = [live_drive(car, start_day=plan.start_at, seconds=seconds) for car in cars]
    stats = HistoryStats()
    seq = int(started.timestamp())
    pending: list[list[Sample]] = [[] for _ in cars]
    for tick in range(seconds):
        ts = started + timedelta(seconds=tick)
        if (ahead := (ts - clock()).total_seconds()) > 0:
            sleep(ahead)
        for car, drive, batch in zip(cars, drives, pending, strict=True):
            batch.append(Sample(ts=ts, pids=drive[tick]))
            if len(batch) >= samples_per_message or tick == seconds - 1:
                message = TelemetryMessage(
                    v=1, device_id=car.device_id, vin=car.vin, seq=seq + tick, samples=list(batch)
                )
                _send_live(sink, stats, message)
                batch.clear()
    sink.close()
    stats.seconds = (clock() - started).total_seconds()
    return stats


def _send_live(sink: Sink, stats: HistoryStats, message: TelemetryMessage) -> None:
    sink.send(on_time(message))
    stats.messages += 1
    stats.published += 1
    stats.samples += len(message.samples)


__all__ = [
    "CarDay",
    "HistoryStats",
    "JsonlSink",
    "MqttSink",
    "Sink",
    "car_days",
    "live_drive",
    "read_jsonl",
    "run_history",
    "run_live",
]
