"""`pitcall predict ...` (replay, run, train) and `pitcall eval`."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Connection, select

from pitcall.settings import ToolSettings
from predict import alerts
from predict.backtest import Backtest
from predict.catalog import FailureMode
from predict.detect import BASELINE_SPAN_DAYS
from predict.evaluation import Fault, ModeScore, Severity
from predict.features import VehicleDay, load_days
from predict.model import CANDIDATES_DIR, MODELS_DIR, Model, shipped
from predict.modes import INDEXES
from predict.promotion import FALSE_TOLERANCE, PRECISION_TOLERANCE, RECALL_TOLERANCE, Tolerance, pooled, refusals
from predict.service import LiveScorer, cohort_of_vehicles, replay, save_days, store_of_vehicles, stored_days
from predict.train import TrainingFleet, merge_fleets, train
from simulators.climate import CHINA
from simulators.faults import InjectedFault, Progression
from store.db import make_engine
from store.tables import devices

predict_app = typer.Typer(help="Fault prediction: replay history, run live, train models.", no_args_is_help=True)
console = Console(stderr=True)
FEATURES_CHUNK_DAYS = 30  # one transaction per month of features: bounded memory and work lost on a failure
ModelOption = Annotated[Path | None, typer.Option("--model", help="model JSON (default: newest in predict/models)")]


def _model(path: Path | None) -> Model:
    return Model.load(path) if path else shipped()


@predict_app.command("replay")
def replay_command(
    first: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"])],
    last: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"])],
    model_path: ModelOption = None,
) -> None:
    """Walk [--from, --to] day by day in data time as if live: features, scores, alerts."""
    model = _model(model_path)
    db = make_engine(ToolSettings().database_url)
    days = (last.date() - first.date()).days + 1
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"replay with model {model.version}", total=days)
        stats = replay(db, first=first.date(), last=last.date(), model=model, progress=lambda _d: bar.advance(task))
    console.print(
        f"{stats.days} days, {stats.vehicle_days} vehicle-days: {stats.opened} alerts opened, {stats.updated} updated,"
        f" {stats.suppressed} suppressed; data-quality issues on vehicles {sorted(stats.garbage_vehicles) or 'none'}"
    )
    if stats.scoring_errors:
        unscored = sorted({e.vehicle_id for e in stats.scoring_errors})
        console.print(
            f"[yellow]{len(stats.scoring_errors)} vehicle-mode-days could not be scored (logged), "
            f"vehicles {unscored}; every other vehicle was scored[/yellow]"
        )


@predict_app.command("features")
def features_command(
    first: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"])],
    last: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"])],
) -> None:
    """Recompute and keep the daily features of [--from, --to] from the raw samples, without scoring or
    alerting (after an upgrade that adds or changes a feature: docs/prediction.md)."""
    db = make_engine(ToolSettings().database_url)
    day, kept = first.date(), 0
    while day <= last.date():
        until = min(last.date(), day + timedelta(days=FEATURES_CHUNK_DAYS - 1))
        with db.begin() as conn:
            days = load_days(conn, first=day, last=until)
            save_days(conn, days)
        kept += len(days)
        console.print(f"{day} .. {until}: {len(days):,} vehicle-days kept")
        day = until + timedelta(days=1)
    console.print(f"{kept:,} vehicle-days of features recomputed")


@predict_app.command("run")
def run_command(
    interval_s: Annotated[float, typer.Option("--interval", help="seconds between scoring cycles")] = 300.0,
    once: bool = False,
    model_path: ModelOption = None,
) -> None:
    """Score new data as it lands: every cycle, today of every vehicle, and yesterday where late data arrived."""
    model = _model(model_path)
    db = make_engine(ToolSettings().database_url)
    scorer = LiveScorer(model)
    while True:
        today = datetime.now(UTC).astimezone(CHINA).date()
        started = time.monotonic()
        stats = scorer.cycle(db, today=today)
        console.print(
            f"{datetime.now(UTC):%H:%M:%S} scored {stats.vehicle_days} vehicle-days in "
            f"{time.monotonic() - started:.1f}s: {stats.opened} opened, {stats.updated} updated, "
            f"{len(stats.scoring_errors)} vehicle-modes not scored (logged)"
        )
        if once:
            return
        time.sleep(interval_s)


@predict_app.command("train")
def train_command(
    first: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"])],
    last: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"])],
    truth: Annotated[Path | None, typer.Option(help="ground-truth JSON of a simulated fleet")] = None,
    fleets: Annotated[
        list[str] | None,
        typer.Option(
            "--fleet",
            help="another fleet to train on, as DATABASE_URL=TRUTH_JSON (repeatable): "
            "e.g. the database `pitcall eval --seed N --truth T` left behind",
        ),
    ] = None,
    version: Annotated[str | None, typer.Option(help="model version (default: date and time)")] = None,
    out: Annotated[Path, typer.Option(help="directory for the candidate's file")] = CANDIDATES_DIR,
) -> None:
    """Train a candidate model from labelled history: ground truth of simulated fleets, or the alert outcomes
    stores recorded. `pitcall predict promote` makes it the live model if the stress profile allows."""
    span = (first.date(), last.date())
    sources = [_training_fleet(ToolSettings().database_url, truth, span)]
    for fleet in fleets or []:
        url, sep, truth_path = fleet.rpartition("=")
        if not sep or not url:
            raise typer.BadParameter(f"--fleet {fleet!r}: expected DATABASE_URL=TRUTH_JSON")
        sources.append(_training_fleet(url, Path(truth_path), span))
    data = merge_fleets(sources)
    if not data.days:
        raise typer.BadParameter("no features kept for that range: run `pitcall predict replay` over it first")
    name = version or f"pitcall-{datetime.now(UTC):%Y%m%d-%H%M}"
    model = train(data.days, data.faults, data.store_of, version=name, data_range=span, cohort_of=data.cohort_of)
    names = [_database_name(ToolSettings().database_url)] + [_database_name(f.rpartition("=")[0]) for f in fleets or []]
    model = replace(model, trained_on={**model.trained_on, "databases": names})
    out.mkdir(parents=True, exist_ok=True)
    path = model.save(out / f"{name}.json")
    console.print(f"model {name} saved to {path} ({len(sources)} fleet(s), {len(data.days):,} vehicle-days, "
                  f"{len(data.faults)} faults): thresholds "
                  + ", ".join(f"{m.value} {p.threshold:.1f}" for m, p in model.params.items()))  # fmt: skip


@predict_app.command("promote")
def promote_command(
    candidate_path: Annotated[Path, typer.Argument(help="the candidate model's JSON (`pitcall predict train`)")],
    stress: Annotated[
        list[str],
        typer.Option(
            "--stress",
            help="a stress-profile fleet as DATABASE_URL=TRUTH_JSON (repeatable): the database `pitcall eval "
            "--profile stress --truth T` left behind, never used to tune or train",
        ),
    ],
    live_path: Annotated[
        Path | None, typer.Option("--live", help="the live model (default: the newest in predict/models)")
    ] = None,
    out: Annotated[Path, typer.Option(help="directory of the promoted models")] = MODELS_DIR,
    recall_tolerance: float = RECALL_TOLERANCE,
    false_tolerance: Annotated[float, typer.Option(help="false alerts per 1,000 vehicle-months")] = FALSE_TOLERANCE,
    precision_tolerance: float = PRECISION_TOLERANCE,
) -> None:
    """Replace the live model with a candidate unless its stress-profile table is worse beyond the tolerance
    (exit 2, nothing written). The promoted model keeps its stress table, and each mode's stress precision
    becomes the prior of the confidence its alerts state."""
    live = Model.load(live_path) if live_path else shipped()
    candidate = Model.load(candidate_path)
    tables: dict[str, list[dict[FailureMode | None, ModeScore]]] = {"live": [], "candidate": []}
    for fleet in stress:
        url, sep, truth_path = fleet.rpartition("=")
        if not sep or not url:
            raise typer.BadParameter(f"--stress {fleet!r}: expected DATABASE_URL=TRUTH_JSON")
        for name, model in (("live", live), ("candidate", candidate)):
            tables[name].append(_backtest_scores(url, Path(truth_path), model))
    was, now = pooled(tables["live"]), pooled(tables["candidate"])
    title = f"stress profile, {len(stress)} fleet(s): {live.version} (live) / {candidate.version}"
    table = Table("mode", "recall live / candidate", "false /1000 vm live / candidate", "precision live / candidate",
                  title=title)  # fmt: skip
    for mode, row in now.items():
        old = was[mode]
        table.add_row(mode.value if mode else "all modes", f"{_fmt(old.recall)} / {_fmt(row.recall)}",
                      f"{old.false_per_1000_vm:.1f} / {row.false_per_1000_vm:.1f}",
                      f"{_fmt(old.precision)} / {_fmt(row.precision)}")  # fmt: skip
    Console(width=140).print(table)
    reasons = refusals(was, now, Tolerance(recall_tolerance, false_tolerance, precision_tolerance))
    if reasons:
        console.print("[red]refused:[/red] " + "; ".join(reasons))
        raise typer.Exit(2)
    params = {m: replace(p, prior_precision=round(now[m].prior_precision, 3)) for m, p in candidate.params.items()}
    stress_table = {(m.value if m else "all"): {"recall": r.recall, "precision": r.precision,
                    "false_per_1000_vm": round(r.false_per_1000_vm, 2), "alerts": r.alerts, "faults": r.faults}
                    for m, r in now.items()}  # fmt: skip
    metrics = {**candidate.metrics, "stress": {"fleets": [_database_name(f.rpartition("=")[0]) for f in stress],
                                              "replaced": live.version, "table": stress_table}}  # fmt: skip
    promoted = replace(candidate, params=params, metrics=metrics)
    path = promoted.save(out / f"{candidate.version}.json")
    console.print(f"model {candidate.version} promoted: {path} (was {live.version})")


def _backtest_scores(url: str, truth: Path, model: Model) -> dict[FailureMode | None, ModeScore]:
    """The evaluation's table of one fleet's kept features, backtested with `model`."""
    from predict.backtest import backtest
    from predict.evaluation import score_alerts

    db = make_engine(url)
    try:
        with db.connect() as conn:
            days = stored_days(conn, first=date.min, last=date.max)
            store_of, cohort_of = store_of_vehicles(conn), cohort_of_vehicles(conn)
            truth_of = _truth(conn, truth)
    finally:
        db.dispose()
    if not days:
        raise typer.BadParameter(f"{_database_name(url)} keeps no features: run `pitcall eval` into it first")
    first, last = min(d.day for d in days), max(d.day for d in days)
    run = backtest(days, truth_of.faults, truth_of.repaired, model=model, store_of=store_of, cohort_of=cohort_of,
                   first=first, last=last)  # fmt: skip
    return score_alerts(run.raised, truth_of.faults, vehicles=len(store_of), days=(last - first).days + 1)


def _database_name(url: str) -> str:
    """The database's name alone (a URL may carry a password)."""
    return url.rpartition("/")[2].split("?")[0]


def _training_fleet(url: str, truth: Path | None, span: tuple[date, date]) -> TrainingFleet:
    """A database's kept features with its labels: the ground truth if given, else its confirmed alerts."""
    db = make_engine(url)
    try:
        with db.connect() as conn:
            days = stored_days(conn, first=span[0], last=span[1])
            faults = _truth(conn, truth).faults if truth else _label_faults(conn)
            return TrainingFleet(days, faults, store_of_vehicles(conn), cohort_of_vehicles(conn))
    finally:
        db.dispose()


@predict_app.command("backtest")
def backtest_command(
    first: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"])],
    last: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"])],
    truth: Annotated[Path, typer.Option(help="ground-truth JSON of the simulated fleet (`pitcall eval --truth`)")],
    model_path: ModelOption = None,
    misses: Annotated[bool, typer.Option(help="list the failures no alert caught, and trace their scores")] = False,
) -> None:
    """Replay kept features in memory with the evaluation's workshop and score them (seconds, not minutes).

    Reads `vehicle_day_features` of the configured database: point PITCALL_DATABASE_URL at a database
    `pitcall eval` left behind (`<database>_eval`) to tune a detector against that fleet."""
    from predict.backtest import backtest
    from predict.evaluation import missed, oracle_alerts, reliability, score_alerts

    model = _model(model_path)
    db = make_engine(ToolSettings().database_url)
    with db.connect() as conn:
        days = stored_days(conn, first=first.date() - timedelta(days=BASELINE_SPAN_DAYS), last=last.date())
        store_of, cohort_of = store_of_vehicles(conn), cohort_of_vehicles(conn)
        truth_of = _truth(conn, truth)
        faults, repaired_at = truth_of.faults, truth_of.repaired
    if not days:
        raise typer.BadParameter("no features kept for that range: run `pitcall eval` or `predict replay` first")
    started = time.monotonic()
    watch = {(f.vehicle_id, f.mode) for f in faults} if misses else set()
    run = backtest(days, faults, repaired_at, model=model, store_of=store_of, cohort_of=cohort_of,
                   first=first.date(), last=last.date(), watch=watch)  # fmt: skip
    vehicles = len({d.vehicle_id for d in days})
    span = {"vehicles": vehicles, "days": (last - first).days + 1}
    scores = score_alerts(run.raised, faults, **span)
    # the ceilings of the evaluation's table (`predict.evaluation.oracle_alerts`): first reading, severity 0.2
    ceiling = score_alerts(oracle_alerts(days, truth_of.severity), faults, **span)
    oracle = score_alerts(oracle_alerts(days, truth_of.severity, level=0.2), faults, **span)
    title = f"backtest with model {model.version}: {vehicles} vehicles, {len(days):,} vehicle-days"
    table = Table("mode", "alerts", "failures", "caught", "precision", "recall", "median lead d", "P10 lead d",
                  "false /1000 veh-months", "median ETA error d", "oracle caught: first reading / sev 0.2",
                  "oracle median lead d", title=title)  # fmt: skip
    for mode, s in scores.items():
        c, o = ceiling[mode], oracle[mode]
        table.add_row(mode.value if mode else "all modes", str(s.alerts), str(s.faults), str(s.caught),
                      *(_fmt(v) for v in (s.precision, s.recall, s.median_lead, s.p10_lead)),
                      f"{s.false_per_1000_vm:.1f}", _fmt(s.median_eta_error), f"{c.caught} / {o.caught}",
                      f"{_fmt(c.median_lead)} / {_fmt(o.median_lead)}")  # fmt: skip
    Console(width=160).print(table)
    console.print(
        f"replayed in {time.monotonic() - started:.1f} s; {run.suppressed} findings suppressed; "
        f"{len(run.watched)} alerts on the watch list of a held mode"
    )
    console.print("stated confidence vs observed precision: " + ", ".join(
        f"[{b.low:.1f}, {b.high:.1f}) {b.alerts} alerts at {b.mean_confidence:.2f}: {b.precision:.2f}"
        for b in reliability(run.raised, faults)) or "no alerts")  # fmt: skip
    if misses:
        for fault in sorted(missed(run.raised, faults), key=lambda f: (f.mode.value, f.vehicle_id)):
            _print_miss(fault, run, days)


def _print_miss(fault: Fault, run: Backtest, days: list[VehicleDay]) -> None:
    """A missed failure: how many days had a valid index between onset and failure, and its scores then."""
    key = (fault.vehicle_id, fault.mode)
    spec = INDEXES[fault.mode]
    valid = [d.day for d in days if d.vehicle_id == fault.vehicle_id and spec.index(d.features) is not None]
    window = [d for d in valid if fault.onset.date() <= d < fault.failure.date()]
    alerts = [a.at.date().isoformat() for a in run.raised if (a.vehicle_id, a.mode) == key]
    console.print(f"missed {fault.mode.value} of vehicle {fault.vehicle_id}: onset {fault.onset:%Y-%m-%d}, failure "
                  f"{fault.failure:%Y-%m-%d} ({(fault.failure - fault.onset).days} d); {len(window)} days with a "
                  f"valid index in between, {len(valid)} in all; alerts {alerts or None}", soft_wrap=True)  # fmt: skip
    for point in run.traces.get(key, []):
        if fault.onset.date() - timedelta(days=7) <= point.day <= fault.failure.date() + timedelta(days=2):
            s = point.score
            console.print(f"    {point.day} z {point.z:6.2f} / {point.threshold:5.2f} {s.baseline_from:6} "
                          f"persistent {s.persistent!s:5} trend {_fmt(s.trend_per_day)}", soft_wrap=True)  # fmt: skip


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


@dataclass(frozen=True)
class _Truth:
    faults: list[Fault]
    repaired: dict[tuple[int, FailureMode], datetime]  # when each part was replaced
    severity: list[tuple[Fault, Severity]]  # each fault's true damage over time (for the oracle)


def _truth(conn: Connection, path: Path) -> _Truth:
    """The ground truth's faults of the registered cars, when each part was replaced (the failure, if
    the truth does not say), and how each fault progressed."""
    ids = {r.device_id: r.vehicle_id for r in conn.execute(select(devices.c.device_id, devices.c.vehicle_id))}
    items = [item for item in json.loads(path.read_text()) if item["device_id"] in ids]
    faults = [
        Fault(ids[i["device_id"]], FailureMode(i["mode"]), datetime.fromisoformat(i["onset"]),
              datetime.fromisoformat(i["failure"]))
        for i in items
    ]  # fmt: skip
    repaired = {(ids[i["device_id"]], FailureMode(i["mode"])): datetime.fromisoformat(i["repaired"] or i["failure"])
                for i in items}  # fmt: skip
    injected = [
        InjectedFault(f.mode, f.onset, f.failure, Progression(i["progression"]), i.get("cylinder"),
                      repaired[(f.vehicle_id, f.mode)])
        for f, i in zip(faults, items, strict=True)
    ]  # fmt: skip
    return _Truth(faults, repaired, [(f, fault.severity) for f, fault in zip(faults, injected, strict=True)])


def _label_faults(conn: Connection) -> list[Fault]:
    """Confirmed alerts as faults: from 3 days before the first evidence to when the part was replaced."""
    return [
        Fault(
            label.vehicle_id,
            label.mode,
            label.first_observed_at - timedelta(days=3),
            label.observed_at + timedelta(days=1),
        )
        for label in alerts.labels(conn)
        if label.outcome is alerts.LabelOutcome.CONFIRMED
    ]
