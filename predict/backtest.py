"""Backtest: the evaluation's replay in memory, from kept daily features (pure, no I/O).

`pitcall eval` runs a fleet through the broker, ingest and TimescaleDB and replays it with alerts
written to the database (about 12 minutes for 200 cars x 120 days). Tuning a detector needs the same
answer in seconds: `backtest(...)` feeds the kept vehicle-days through the same scoring engine, opens,
folds and suppresses alerts with the same rules as `predict.alerts` (one live alert per vehicle and
mode, cooldown and flapping after a not-found), and lets the same simulated workshop act on them each
data day (`workshop_step`, which `pitcall eval` uses too). Its alerts are scored with
`predict.evaluation.score_alerts`. An integration test holds it to the database replay's alerts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from predict.alerts import AlertState, ClosedAlert, Outcome, severity_rank, suppression_reason
from predict.catalog import FailureMode
from predict.detect import Score
from predict.dtc_kb import Severity
from predict.engine import Cohort, Engine
from predict.evaluation import Fault, RaisedAlert
from predict.features import VehicleDay, data_days
from predict.model import Model
from predict.outcomes import Precision
from predict.settings import PredictSettings

NOT_FOUND_AFTER = timedelta(days=5)  # the technician checked the car and found nothing
BOOK_AFTER = timedelta(days=1)
EARLY = timedelta(days=3)


def workshop_step(
    *,
    state: AlertState,
    first_observed_at: datetime,
    now: datetime,
    faults: list[Fault],
    repaired_at: datetime | None,
) -> tuple[AlertState, Outcome | None] | None:
    """What a service department does with a live alert of a car at `now` (data time), or None.

    A real fault (one of `faults`, the car's faults of the alert's mode, has started or starts within 3
    days, and the alert came before its part was replaced): booked a day after the alert, resolved
    *confirmed* once the part was replaced (`repaired_at`). Anything else (an alert about the new part
    included): resolved *not found* 5 days after the alert (the car was checked)."""
    # a fault the alert can be about: started (or starts within days) and its part not replaced before the alert
    real = any(f.onset - EARLY <= now for f in faults) and (repaired_at is None or first_observed_at < repaired_at)
    if real and repaired_at is not None and now >= repaired_at:
        return AlertState.RESOLVED, Outcome.CONFIRMED
    if real and state is AlertState.OPEN and now - first_observed_at >= BOOK_AFTER:
        return AlertState.BOOKED, None
    if not real and now - first_observed_at >= NOT_FOUND_AFTER:
        return AlertState.RESOLVED, Outcome.NOT_FOUND
    return None


@dataclass(frozen=True, slots=True)
class TracePoint:
    """One day's score of a watched vehicle and mode: why it did or did not raise an alert."""

    day: date
    z: float  # cohort-adjusted
    threshold: float
    score: Score


@dataclass
class _Live:
    first_observed_at: datetime
    observed_at: datetime
    severity: Severity
    state: AlertState = AlertState.OPEN


@dataclass
class Backtest:
    """The state of one in-memory replay (see the module docstring)."""

    engine: Engine
    faults: dict[tuple[int, FailureMode], list[Fault]]
    repaired_at: dict[tuple[int, FailureMode], datetime]
    raised: list[RaisedAlert] = field(default_factory=list)
    live: dict[tuple[int, FailureMode], _Live] = field(default_factory=dict)
    closed: dict[tuple[int, FailureMode], list[ClosedAlert]] = field(default_factory=lambda: defaultdict(list))
    suppressed: int = 0
    watched: list[RaisedAlert] = field(default_factory=list)  # raised while their mode was held: never in the queue
    watch: set[tuple[int, FailureMode]] = field(default_factory=set)  # (vehicle, mode) to trace day by day
    traces: dict[tuple[int, FailureMode], list[TracePoint]] = field(default_factory=lambda: defaultdict(list))

    def score(self, day: date) -> None:
        """Score data day `day` and raise, fold or suppress its findings as `predict.alerts.raise_alert` does."""
        findings = self.engine.score_day(day, observe=self._observe if self.watch else None)
        for finding in sorted(findings, key=lambda f: (f.vehicle_id, f.mode.value)):
            key = (finding.vehicle_id, finding.mode)
            severity = Severity(finding.severity)
            if (live := self.live.get(key)) is not None:
                live.severity = max(live.severity, severity, key=severity_rank)
                live.first_observed_at = min(live.first_observed_at, finding.observed_at)
                live.observed_at = max(live.observed_at, finding.observed_at)
                if live.state is AlertState.WATCH and not finding.held:  # its mode is no longer held back
                    live.state = AlertState.OPEN
                    self.raised.append(
                        RaisedAlert(*key, live.first_observed_at, finding.days_to_failure, finding.confidence)
                    )
                continue
            if suppression_reason(severity, finding.observed_at, self.closed[key]) is not None:
                self.suppressed += 1
                continue
            state = AlertState.WATCH if finding.held else AlertState.OPEN
            self.live[key] = _Live(finding.observed_at, finding.observed_at, severity, state)
            alert = RaisedAlert(*key, finding.observed_at, finding.days_to_failure, finding.confidence)
            (self.watched if finding.held else self.raised).append(alert)

    def _observe(self, vehicle_id: int, mode: FailureMode, z: float, s: Score) -> None:
        if (vehicle_id, mode) in self.watch:
            threshold = self.engine.alert_threshold(vehicle_id, mode, s)
            self.traces[(vehicle_id, mode)].append(TracePoint(s.day, z, threshold, s))

    def workshop(self, day: date) -> None:
        """Act on the live alerts at the end of data day `day` (as `pitcall eval` does after each day)."""
        now = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
        for key, live in list(self.live.items()):
            if live.state is AlertState.WATCH:
                continue  # the watch list is not the queue: the store does not act on it
            action = workshop_step(state=live.state, first_observed_at=live.first_observed_at, now=now,
                                   faults=self.faults.get(key, []), repaired_at=self.repaired_at.get(key))  # fmt: skip
            if action is None:
                continue
            state, outcome = action
            live.state = state
            if state is not AlertState.RESOLVED:
                continue
            del self.live[key]
            mode = key[1]
            self.engine.outcomes[mode] = self.engine.outcomes.get(mode, Precision()).add(
                confirmed=outcome is Outcome.CONFIRMED
            )
            if outcome is Outcome.CONFIRMED:
                self.engine.repaired[key] = now.date()  # the baseline restarts with the new part
            else:
                self.closed[key].append(ClosedAlert(live.severity, live.observed_at))


def backtest(
    days: list[VehicleDay],
    faults: list[Fault],
    repaired_at: dict[tuple[int, FailureMode], datetime],
    *,
    model: Model,
    store_of: dict[int, int],
    cohort_of: dict[int, Cohort],
    first: date,
    last: date,
    workshop_until: date | None = None,
    watch: set[tuple[int, FailureMode]] | None = None,
    settings: PredictSettings | None = None,
) -> Backtest:
    """Replay [first, last] in memory; the days before `first` seed the baselines (as in `replay`)."""
    by_fault: dict[tuple[int, FailureMode], list[Fault]] = defaultdict(list)
    for fault in faults:
        by_fault[(fault.vehicle_id, fault.mode)].append(fault)
    engine = Engine.configured(model, store_of, cohort_of=cohort_of, settings=settings or PredictSettings())
    run = Backtest(engine, dict(by_fault), repaired_at, watch=watch or set())
    for day, vdays in data_days(days, last=last):
        for vday in vdays:
            run.engine.add(vday)
        if day >= first:
            run.score(day)
            if workshop_until is None or day <= workshop_until:
                run.workshop(day)
    return run
