"""`pitcall bench api`: latency of the API's read paths over a large fleet, through real HTTP.

Data (pitcall/bench/api_data.py): a dedicated database (recreated unless `reuse`) with `rows`
telemetry samples and their hourly rollups, a store with 20 technicians and two weeks of bookings,
a few hundred alerts per store. The real API (`uvicorn api.app:create_app`, `workers` processes,
no access log) serves on a free loopback port. wrk (C, one thread: it leaves the two cores to the
API and PostgreSQL, where a Python load generator would take one for itself) drives each endpoint
with a Lua script that rotates through a file of requests (vehicles, PIDs, windows, alerts) and
prints its latency percentiles; each endpoint gets a short warm-up, then a fixed `duration_s` at
each concurrency. `GET /healthz` through the same stack is the baseline. Any non-2xx response or
socket error is counted and fails the run (the CLI exits 1).

One worker by default: with `--workers` > 1, uvicorn 0.54 binds the socket itself without
IPPROTO_TCP, so asyncio never sets TCP_NODELAY on accepted connections and every keep-alive
response after the first waits ~40 ms for the client's delayed ACK (Kludex/uvicorn#3149; measured
here: /healthz p50 44 ms with two workers, 2-3 ms with one).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, select

from api.auth.service import authenticate_user, create_user, issue_token
from api.tenancy import Role
from pitcall.bench.api_data import (
    GROUP,
    FleetFacts,
    WorkshopFacts,
    fleet_facts,
    live_alert_ids,
    load_fleet,
    prepare_workshop,
    raise_alerts,
    vacuum_workflow,
)
from pitcall.evaluate import recreate_database
from store import migrate
from store.db import make_engine
from store.service_tables import users
from store.tables import dealer_groups, vehicles

PASSWORD = "bench-api-password"  # a throwaway database on loopback
SERIES_PIDS = ("RPM", "SPEED", "COOLANT_TEMP", "CONTROL_MODULE_VOLTAGE", "ENGINE_LOAD", "ELM_VOLTAGE")
WRK_LUA = r"""
-- pitcall bench api: rotate through the requests of a file (method TAB path TAB token TAB body),
-- count non-2xx answers, print the latency percentiles as one JSON line.
requests_ = {}
index_ = 0
non2xx = 0
first_bad = 0
threads_ = {}

function setup(thread)
  table.insert(threads_, thread)
  thread:set("index_", #threads_ * 7919)
end

function init(args)
  for line in io.lines(args[1]) do
    local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {}
    if token ~= "" then headers["Authorization"] = "Bearer " .. token end
    if body == "" then body = nil else headers["Content-Type"] = "application/json" end
    table.insert(requests_, wrk.format(method, path, headers, body))
  end
end

function request()
  index_ = index_ % #requests_ + 1
  return requests_[index_]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_bad == 0 then first_bad = status end
  end
end

function done(summary, latency, requests)
  local bad, status = 0, 0
  for _, t in ipairs(threads_) do
    bad = bad + t:get("non2xx")
    if status == 0 then status = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    'PITCALL {"requests": %d, "duration_us": %d, "non2xx": %d, "first_bad_status": %d, "socket_errors": %d, ' ..
    '"timeouts": %d, "bytes": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, bad, status, e.connect + e.read + e.write, e.timeout, summary.bytes,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str
    token: str = ""
    body: str = ""


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    route: str  # as in the OpenAPI document; "" for operations routes outside it
    target_ms: float | None
    calls: list[Call]


@dataclass(frozen=True, slots=True)
class Measurement:
    endpoint: str
    route: str
    connections: int
    requests: int
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    non2xx: int
    first_bad_status: int
    socket_errors: int
    bytes_per_response: float
    target_ms: float | None

    @property
    def failed(self) -> bool:
        return self.non2xx > 0 or self.socket_errors > 0

    @property
    def met(self) -> bool | None:
        return None if self.target_ms is None else self.p95_ms < self.target_ms and not self.failed


@dataclass(frozen=True, slots=True)
class ApiBench:
    fleet: FleetFacts
    workshop: WorkshopFacts
    live_alerts: int  # in the measured store
    workers: int
    duration_s: float
    measurements: list[Measurement]
    missing: list[str]  # endpoints the API does not serve yet


def run(
    database_url: str,
    *,
    rows: int,
    days: int = 42,
    template_cars: int = 10,
    stores_count: int = 10,
    alerts_per_store: int = 300,
    reuse: bool = False,
    workers: int = 1,
    connections: tuple[int, ...] = (1, 4),
    duration_s: float = 20.0,
    say: Callable[[str], None] = print,
) -> ApiBench:
    """Load (or reuse) the data, serve the API, measure every endpoint; see the module docstring."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (deploy/scripts/setup-machine.sh --no-start installs it)")
    fleet = _fleet(database_url, rows, days, template_cars, stores_count, alerts_per_store, reuse, say)
    db = make_engine(database_url)
    workshop = prepare_workshop(db)
    vacuum_workflow(db)
    say(f"workshop: {workshop.bookings} bookings, technicians {workshop.technician_fill:.0%} booked")
    secret = secrets.token_urlsafe(32)
    tokens = _tokens(db, store_id=workshop.store_id, secret=secret)
    endpoints = _endpoints(db, fleet, workshop.store_id, tokens)
    live_alerts = len(live_alert_ids(db, store_id=workshop.store_id))
    db.dispose()
    root = Path(tempfile.mkdtemp(prefix="pitcall-bench-api-"))
    (root / "requests.lua").write_text(WRK_LUA)
    server = ApiServer(database_url, secret=secret, workers=workers, log=root / "api.log")
    measurements, missing = [], []
    try:
        server.start()
        served = server.routes()
        for endpoint in endpoints:
            if endpoint.route and endpoint.route not in served:
                say(f"{endpoint.name}: {endpoint.route} is not served (yet); skipped")
                missing.append(f"{endpoint.name} ({endpoint.route})")
                continue
            measurements += _measure(server, endpoint, root, connections, duration_s, say)
    finally:
        server.stop()
    return ApiBench(fleet, workshop, live_alerts, workers, duration_s, measurements, missing)


def _fleet(
    url: str,
    rows: int,
    days: int,
    template_cars: int,
    stores_count: int,
    per_store: int,
    reuse: bool,
    say: Callable[[str], None],
) -> FleetFacts:
    if reuse:
        say("reusing the loaded fleet")
        return fleet_facts(url, phases={})
    recreate_database(url)
    migrate.upgrade(url)
    fleet = load_fleet(url, rows=rows, days=days, template_cars=template_cars, stores_count=stores_count, say=say)
    say(f"loaded {fleet.telemetry_rows:,} samples in {fleet.load_s:.0f} s; raising alerts")
    db = make_engine(url)
    raise_alerts(db, per_store=per_store)
    db.dispose()
    return fleet


def _tokens(db: Engine, *, store_id: int, secret: str) -> dict[str, str]:
    """Return access tokens of the store's service manager and of a group admin (made once)."""
    tokens = {}
    with db.begin() as conn:
        group_id = int(conn.execute(select(dealer_groups.c.id).where(dealer_groups.c.name == GROUP)).scalar_one())
        for username, role, store in (
            ("bench-manager", Role.SERVICE_MANAGER, store_id),
            ("bench-admin", Role.GROUP_ADMIN, None),
        ):
            if conn.scalar(select(users.c.id).where(users.c.username == username)) is None:
                create_user(conn, username=username, password=PASSWORD, role=role, group_id=group_id, store_id=store)
            principal = authenticate_user(conn, username=username, password=PASSWORD)
            tokens[role.value] = issue_token(principal, secret=secret, minutes=240).token
    return tokens


def _endpoints(db: Engine, fleet: FleetFacts, store_id: int, tokens: dict[str, str]) -> list[Endpoint]:
    rng = random.Random(3)
    with db.connect() as conn:
        fleet_ids = list(conn.scalars(select(vehicles.c.id)))
    manager, admin = tokens[Role.SERVICE_MANAGER.value], tokens[Role.GROUP_ADMIN.value]
    alert_ids = live_alert_ids(db, store_id=store_id)
    return [
        Endpoint("baseline GET /healthz", "", None, [Call("GET", "/healthz")]),
        Endpoint("vehicle series, 30 days hourly", "/api/v1/vehicles/{vehicle_id}/series", 50.0,
                 [_series_call(rng, fleet, rng.choice(fleet_ids), admin) for _ in range(5000)]),
        Endpoint("alert queue of a store", "/api/v1/alerts", 50.0,
                 [Call("GET", f"/api/v1/alerts?store_id={store_id}", manager)]),
        Endpoint("booking slot proposal", "/api/v1/alerts/{alert_id}/slots", 100.0,
                 [Call("GET", f"/api/v1/alerts/{a}/slots", manager) for a in alert_ids]),
    ]  # fmt: skip


def _series_call(rng: random.Random, fleet: FleetFacts, vehicle_id: int, token: str) -> Call:
    """A 30-day window ending at the end of a random day that has 30 days of data before it."""
    span = max((fleet.last_day - fleet.first_day).days - 30, 0)
    ends = datetime.combine(fleet.last_day - timedelta(days=rng.randint(0, span)), clock(0), UTC)
    starts = ends - timedelta(days=30)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    query = f"pid={rng.choice(SERIES_PIDS)}&from={starts:{iso}}&to={ends:{iso}}&bucket=1h"
    return Call("GET", f"/api/v1/vehicles/{vehicle_id}/series?{query}", token)


class ApiServer:
    """The real API under uvicorn on a free loopback port, in its own process group."""

    def __init__(self, database_url: str, *, secret: str, workers: int, log: Path) -> None:
        self.database_url, self.secret, self.workers, self.log = database_url, secret, workers, log
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = os.environ | {
            "PITCALL_API_DATABASE_URL": self.database_url,
            "PITCALL_API_JWT_SECRET": self.secret,
            "PITCALL_API_ENVIRONMENT": "development",
        }
        command = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--no-access-log",
                   "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]  # fmt: skip
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the API was not ready in 60 s: {self.log.read_text()[-2000:]}")

    def routes(self) -> set[str]:
        return set(httpx.get(f"{self.base}/openapi.json", timeout=10).json()["paths"])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _measure(
    server: ApiServer,
    endpoint: Endpoint,
    root: Path,
    connections: tuple[int, ...],
    duration_s: float,
    say: Callable[[str], None],
) -> list[Measurement]:
    calls = endpoint.calls
    if not calls:
        raise RuntimeError(f"{endpoint.name}: nothing to ask for")
    lines = root / f"requests-{abs(hash(endpoint.name))}.tsv"
    lines.write_text("".join(f"{c.method}\t{c.path}\t{c.token}\t{c.body}\n" for c in calls))
    _check_first(server, calls[0])
    warm = _wrk(server, root, lines, connections=max(connections), seconds=3)
    if warm["non2xx"] or warm["socket_errors"]:
        raise RuntimeError(f"{endpoint.name}: {warm['non2xx']} non-2xx (first {warm['first_bad_status']}) in warm-up")
    results = []
    for count in connections:
        raw = _wrk(server, root, lines, connections=count, seconds=duration_s)
        m = Measurement(
            endpoint=endpoint.name, route=endpoint.route or "/healthz", connections=count, requests=raw["requests"],
            requests_per_s=raw["requests"] / (raw["duration_us"] / 1e6), p50_ms=raw["p50_us"] / 1000,
            p95_ms=raw["p95_us"] / 1000, p99_ms=raw["p99_us"] / 1000, max_ms=raw["max_us"] / 1000,
            non2xx=raw["non2xx"], first_bad_status=raw["first_bad_status"],
            socket_errors=raw["socket_errors"] + raw["timeouts"], target_ms=endpoint.target_ms,
            bytes_per_response=raw["bytes"] / max(raw["requests"], 1),
        )  # fmt: skip
        say(f"{endpoint.name} c={count}: {m.requests_per_s:,.0f} req/s, p50 {m.p50_ms:.1f} / p95 {m.p95_ms:.1f} ms")
        results.append(m)
    return results


def _check_first(server: ApiServer, call: Call) -> None:
    """Send one request the plain way, so a wrong request fails with the server's own explanation."""
    headers = {"Authorization": f"Bearer {call.token}"} if call.token else {}
    if call.body:
        headers["Content-Type"] = "application/json"
    answer = httpx.request(call.method, server.base + call.path, headers=headers, content=call.body or None, timeout=30)
    if not answer.is_success:
        raise RuntimeError(f"{call.method} {call.path} answered {answer.status_code}: {answer.text[:500]}")


def _wrk(server: ApiServer, root: Path, lines: Path, *, connections: int, seconds: float) -> dict[str, int]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "--latency",
               "-s", str(root / "requests.lua"), server.base, "--", str(lines)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    for line in done.stdout.splitlines():
        if line.startswith("PITCALL "):
            return dict(json.loads(line.removeprefix("PITCALL ")))
    raise RuntimeError(f"wrk printed no figures: {done.stdout[-1000:]} {done.stderr[-1000:]}")


def print_report(console: Console, result: ApiBench) -> bool:
    """Print the figures as a table; return False if any request failed."""
    f, w = result.fleet, result.workshop
    console.print(
        f"fleet: {f.telemetry_rows:,} samples of {f.vehicles:,} vehicles, {f.first_day} .. {f.last_day}; "
        f"telemetry {f.telemetry_bytes / 2**30:.1f} GiB, {f.rollup_rows:,} rollup rows "
        f"{f.rollup_bytes / 2**30:.2f} GiB"
    )
    phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in f.phases.items())
    console.print(f"load: {f.load_s:.0f} s ({phases})" if f.phases else "load: reused from an earlier run")
    console.print(
        f"store {w.store_id}: 20 technicians, {w.bookings} confirmed bookings over two weeks "
        f"(technicians {w.technician_fill:.0%}, bays {w.bay_fill:.0%} booked); "
        f"{result.live_alerts} live alerts in the store; API: uvicorn, workers={result.workers}; "
        f"wrk 1 thread, {result.duration_s:g} s per row"
    )
    table = Table(
        "endpoint", "conns", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "KB", "errors", "target p95", ""
    )
    for m in result.measurements:
        verdict = "" if m.met is None else ("met" if m.met else "[red]NOT met[/red]")
        table.add_row(
            m.endpoint, str(m.connections), f"{m.requests_per_s:,.0f}", f"{m.p50_ms:.1f}", f"{m.p95_ms:.1f}",
            f"{m.p99_ms:.1f}", f"{m.max_ms:.0f}", f"{m.bytes_per_response / 1000:.1f}", f"{m.non2xx + m.socket_errors}",
            "" if m.target_ms is None else f"< {m.target_ms:g} ms", verdict,
        )  # fmt: skip
    console.print(table)
    for name in result.missing:
        console.print(f"[yellow]not measured: {name} is not served by the API yet[/yellow]")
    failed = [m for m in result.measurements if m.failed]
    for m in failed:
        console.print(
            f"[red]{m.endpoint} (c={m.connections}): {m.non2xx} non-2xx (first {m.first_bad_status}), "
            f"{m.socket_errors} socket errors or timeouts[/red]"
        )
    return not failed
