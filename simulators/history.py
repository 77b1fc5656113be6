"""A simulated car's history as the wire messages its dongle would have sent, day by day.

Deterministic: `CarHistory(car).day(d)` gives the same messages for the same car and day, and
sequence numbers keep rising across days. Samples are grouped into telemetry messages the way the
edge agent does it (up to `samples_per_message`, a new message after a pause); after a trip whose
trouble codes changed, a DTC message follows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from simulators.climate import Weather
from simulators.scenario import SimCar
from simulators.vehicle import DtcReport, SimulatedRecord, VehicleSim
from wire.v1 import DtcMessage, Sample, TelemetryMessage

DeviceMessage = TelemetryMessage | DtcMessage
PAUSE = timedelta(minutes=2)


DEFAULT_SAMPLE_EVERY_S = 30


@dataclass(frozen=True, slots=True)
class Cadence:
    """How densely history is simulated: 1 s physics and samples for demos, coarser for months.
    `sample_every_s`: every car's dongle at this rate; None: each car's own (`Traits.sample_every_s`, the
    textbook car's 30 s)."""

    sample_every_s: int | None = None
    step_s: int = 5
    samples_per_message: int = 20

    def for_car(self, car: SimCar) -> int:
        return self.sample_every_s or car.spec.traits.sample_every_s or DEFAULT_SAMPLE_EVERY_S


@dataclass
class CarHistory:
    car: SimCar
    cadence: Cadence = field(default_factory=Cadence)
    seq: int = 0
    sim: VehicleSim = field(init=False)

    def __post_init__(self) -> None:
        self.sim = VehicleSim(
            self.car.spec, Weather(self.car.region, self.car.seed), list(self.car.faults), self.car.seed
        )

    def day(self, day: date) -> list[DeviceMessage]:
        """Return the day's messages in time order (telemetry, then DTC reports where codes changed)."""
        reports_before = len(self.sim.dtc_reports)
        records = self.sim.day(day, sample_every_s=self.cadence.for_car(self.car), step_s=self.cadence.step_s)
        messages: list[DeviceMessage] = list(self._telemetry(records))
        messages += [self._dtc(r) for r in self.sim.dtc_reports[reports_before:]]
        messages.sort(key=_first_ts)
        return messages

    def _telemetry(self, records: list[SimulatedRecord]) -> Iterator[TelemetryMessage]:
        batch: list[SimulatedRecord] = []
        for record in records:
            if batch and (len(batch) >= self.cadence.samples_per_message or record.ts - batch[-1].ts > PAUSE):
                yield self._message(batch)
                batch = []
            batch.append(record)
        if batch:
            yield self._message(batch)

    def _message(self, batch: list[SimulatedRecord]) -> TelemetryMessage:
        self.seq += 1
        samples = [Sample(ts=r.ts, pids=r.readings) for r in batch]
        return TelemetryMessage(v=1, device_id=self.car.device_id, vin=self.car.vin, seq=self.seq, samples=samples)

    def _dtc(self, report: DtcReport) -> DtcMessage:
        self.seq += 1
        return DtcMessage(
            v=1,
            device_id=self.car.device_id,
            vin=self.car.vin,
            seq=self.seq,
            ts=report.ts,
            mil=report.mil,
            stored=list(report.stored),
            pending=list(report.pending),
        )


def _first_ts(message: DeviceMessage) -> datetime:
    return message.samples[0].ts if isinstance(message, TelemetryMessage) else message.ts
