"""Scoring alerts against ground truth, and the two baselines pitcall is compared with (pure).

Rules (docs/prediction.md):
- A failure is *caught* when an alert of its mode for its vehicle was first raised between 3 days
  before onset and 1 day before failure; lead time = failure - that alert.
- An alert is *true* when its vehicle has a fault of its mode with the alert between 3 days before
  onset and 3 days after failure (a late but right alert is not a false one; it does not count as
  caught either); every other alert is *false*.
- False alerts are normalised per 1,000 vehicle-months (30.44 days).
- The *days-to-failure error* of a caught failure is |first alert's data time + its first estimate -
  failure|, in days: what the customer was told against what happened.
Baselines read the same daily features: the *reactive* rule alerts on the first confirmed (stored)
DTC of the mode, or on a failed start for the battery; the *fixed-threshold* rule alerts when the
mode's index passes a textbook limit on 2 of 3 consecutive days.
The *oracle* is not a method but a ceiling: it knows each fault's true severity and alerts on the
first day on which the car gave a valid reading of the mode and the fault had reached a level. At
level 0 (the first reading from 3 days before onset) no detector can catch more failures, or catch
one earlier, from the same data: a car not driven between onset and failure cannot be caught by
anything. At a level such as 0.2 it shows the lead a detector that sees a fault a fifth of the way
to failure would get.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from predict.catalog import FailureMode, confirms
from predict.features import Quality, VehicleDay
from predict.modes import INDEXES

EARLY = timedelta(days=3)
LATEST_BEFORE_FAILURE = timedelta(days=1)
LATE_GRACE = timedelta(days=3)
RE_ALERT_GAP = timedelta(days=14)
MONTH_DAYS = 30.44
CRANK_CUTOUT_V = 8.5


@dataclass(frozen=True, slots=True)
class Fault:
    vehicle_id: int
    mode: FailureMode
    onset: datetime
    failure: datetime


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    vehicle_id: int
    mode: FailureMode
    at: datetime  # data time of the evidence that first raised it
    days_to_failure: float | None = None  # the estimate it was raised with
    confidence: float | None = None  # the confidence it was raised with


@dataclass(frozen=True, slots=True)
class ModeScore:
    alerts: int
    true_alerts: int
    faults: int
    caught: int
    leads_days: tuple[float, ...]
    false_alerts: int
    vehicle_months: float
    eta_errors_days: tuple[float, ...] = ()  # per caught failure whose first alert had an estimate

    @property
    def precision(self) -> float | None:
        return self.true_alerts / self.alerts if self.alerts else None

    @property
    def recall(self) -> float | None:
        return self.caught / self.faults if self.faults else None

    @property
    def median_lead(self) -> float | None:
        return statistics.median(self.leads_days) if self.leads_days else None

    @property
    def median_eta_error(self) -> float | None:
        return statistics.median(self.eta_errors_days) if self.eta_errors_days else None

    @property
    def p10_lead(self) -> float | None:
        if not self.leads_days:
            return None
        ordered = sorted(self.leads_days)
        return ordered[int(0.1 * (len(ordered) - 1))]

    @property
    def false_per_1000_vm(self) -> float:
        return 1000.0 * self.false_alerts / self.vehicle_months if self.vehicle_months else 0.0


def score_alerts(
    raised: list[RaisedAlert], faults: list[Fault], *, vehicles: int, days: int
) -> dict[FailureMode | None, ModeScore]:
    """Score per mode and overall (key None)."""
    months = vehicles * days / MONTH_DAYS
    out: dict[FailureMode | None, ModeScore] = {}
    for mode in [*FailureMode, None]:
        mode_alerts = [a for a in raised if mode is None or a.mode is mode]
        mode_faults = [f for f in faults if mode is None or f.mode is mode]
        true = [a for a in mode_alerts if any(_explains(f, a) for f in faults)]
        leads, eta_errors = [], []
        for fault in mode_faults:
            hits = [a for a in mode_alerts if _catches(fault, a)]
            if hits:
                first = min(hits, key=lambda a: a.at)
                leads.append((fault.failure - first.at).total_seconds() / 86400)
                if first.days_to_failure is not None:
                    told = first.at + timedelta(days=first.days_to_failure)
                    eta_errors.append(abs((told - fault.failure).total_seconds()) / 86400)
        out[mode] = ModeScore(
            alerts=len(mode_alerts),
            true_alerts=len(true),
            faults=len(mode_faults),
            caught=len(leads),
            leads_days=tuple(leads),
            false_alerts=len(mode_alerts) - len(true),
            vehicle_months=months,
            eta_errors_days=tuple(eta_errors),
        )
    return out


def missed(raised: list[RaisedAlert], faults: list[Fault]) -> list[Fault]:
    """The failures no alert caught."""
    return [f for f in faults if not any(_catches(f, a) for a in raised)]


def _explains(fault: Fault, alert: RaisedAlert) -> bool:
    return (
        fault.vehicle_id == alert.vehicle_id
        and fault.mode is alert.mode
        and fault.onset - EARLY <= alert.at <= fault.failure + LATE_GRACE
    )


def _catches(fault: Fault, alert: RaisedAlert) -> bool:
    return (
        fault.vehicle_id == alert.vehicle_id
        and fault.mode is alert.mode
        and fault.onset - EARLY <= alert.at <= fault.failure - LATEST_BEFORE_FAILURE
    )


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59), UTC)


def _episodes(hits: list[tuple[int, FailureMode, datetime]]) -> list[RaisedAlert]:
    """One alert per vehicle and mode, again only after a quiet gap (as a store would see it)."""
    last: dict[tuple[int, FailureMode], datetime] = {}
    out = []
    for vehicle_id, mode, at in sorted(hits, key=lambda h: h[2]):
        previous = last.get((vehicle_id, mode))
        if previous is None or at - previous > RE_ALERT_GAP:
            out.append(RaisedAlert(vehicle_id, mode, at))
        last[(vehicle_id, mode)] = at
    return out


def reactive_baseline(days: list[VehicleDay]) -> list[RaisedAlert]:
    """Alert on the first confirmed DTC of a mode (a failed start for the battery)."""
    hits = []
    for vday in days:
        for mode in FailureMode:
            if any(confirms(mode, code) for code in vday.dtc_stored):
                hits.append((vday.vehicle_id, mode, _end_of(vday.day)))
        crank = vday.features.get("crank_v")
        if crank is not None and crank < CRANK_CUTOUT_V:
            hits.append((vday.vehicle_id, FailureMode.BATTERY, _end_of(vday.day)))
    return _episodes(hits)


def fixed_threshold_baseline(days: list[VehicleDay]) -> list[RaisedAlert]:
    """Alert when a mode's index passes its textbook limit on 2 of 3 consecutive valid days."""
    over: dict[tuple[int, FailureMode], list[tuple[date, bool]]] = defaultdict(list)
    hits = []
    for vday in sorted(days, key=lambda d: d.day):
        if vday.quality is Quality.GARBAGE:
            continue
        for mode, spec in INDEXES.items():
            index = spec.textbook(vday.features)
            if index is None:
                continue
            recent = over[(vday.vehicle_id, mode)]
            recent.append((vday.day, index >= spec.fixed_limit))
            window = [flag for d, flag in recent[-3:] if (vday.day - d).days < 7]
            if recent[-1][1] and sum(window) >= 2:
                hits.append((vday.vehicle_id, mode, _end_of(vday.day)))
    return _episodes(hits)


Severity = Callable[[datetime], float]  # a fault's true damage at a time: 0 before onset, 1 at failure


def oracle_alerts(
    days: list[VehicleDay], faults: Sequence[tuple[Fault, Severity]], *, level: float = 0.0
) -> list[RaisedAlert]:
    """A ceiling, not a method (see the module docstring): per fault, an alert at the data time of the
    first valid day of its mode from 3 days before onset on which its severity had reached `level`.
    At level 0 that is the first reading in the window: no detector catches more, or earlier."""
    valid: dict[tuple[int, FailureMode], list[datetime]] = defaultdict(list)
    for vday in days:
        if vday.quality is Quality.GARBAGE:
            continue
        for mode, spec in INDEXES.items():
            if spec.index(vday.features) is not None:
                valid[(vday.vehicle_id, mode)].append(vday.data_time)
    out = []
    for fault, severity in faults:
        for at in sorted(valid[(fault.vehicle_id, fault.mode)]):
            if at >= fault.onset - EARLY and severity(at) >= level:
                out.append(RaisedAlert(fault.vehicle_id, fault.mode, at))
                break
    return out


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """Alerts whose stated confidence fell in [low, high): how many, their mean confidence, how many were true."""

    low: float
    high: float
    alerts: int
    mean_confidence: float
    true_alerts: int

    @property
    def precision(self) -> float:
        return self.true_alerts / self.alerts


def reliability(raised: list[RaisedAlert], faults: list[Fault], *, bins: int = 10) -> list[ReliabilityBin]:
    """Stated confidence against observed precision, by confidence decile (empty deciles left out): the
    reliability table of the alerts (a confidence of 0.9 should mean nine in ten real)."""
    out = []
    for k in range(bins):
        low, high = k / bins, (k + 1) / bins
        inside = [
            a
            for a in raised
            if a.confidence is not None and (low <= a.confidence < high or (k == bins - 1 and a.confidence == 1.0))
        ]
        if inside:
            true = sum(any(_explains(f, a) for f in faults) for a in inside)
            mean = statistics.fmean(a.confidence or 0.0 for a in inside)
            out.append(ReliabilityBin(low, high, len(inside), mean, true))
    return out
