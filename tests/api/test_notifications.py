"""Outbox → deliveries → a real local HTTP receiver and the logging message adapter, on a real database.

The receiver is this file's own http.server on 127.0.0.1: it checks the HMAC signature with the
secret the API returned and answers with scripted statuses. Time moves by passing `now`. The poster's
egress guard lists 127.0.0.0/8, as an operator would list the network of an on-premises receiver.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from api.notifications.adapters import Adapters, HttpWebhookPoster, LoggingSender, WebhookCall
from api.notifications.delivery import deliver_due
from api.notifications.dispatch import dispatch
from api.notifications.egress import ALLOWED_NETWORKS_ENV, EgressPolicy
from api.notifications.rules import RetryPolicy, signature_valid
from api.notifications.worker import run_once
from api.pagination import encode_cursor
from api.settings import DEV_WEBHOOK_KEY
from api.tenancy import Role
from store.db import make_engine
from store.outbox import emit
from store.service_tables import deliveries, outbox
from store.tables import customers
from tests.api_world import World

T0 = datetime.now(UTC)
POLICY = RetryPolicy(max_attempts=4, base=timedelta(seconds=30), cap=timedelta(hours=1))
LATER = timedelta(hours=2)  # past any backoff of POLICY
LOOPBACK_LISTED = EgressPolicy.of(["127.0.0.0/8"])


@dataclass
class Received:
    delivery_id: str
    event: str
    signature_ok: bool
    body: dict[str, Any]
    host: str = ""


@dataclass
class Receiver:
    """A webhook endpoint: answers `statuses` in turn (then the last one forever), records each call."""

    statuses: list[int]
    secret: str = ""
    host: str = "127.0.0.1"  # the host name of the subscribed URL (the server listens on 127.0.0.1)
    calls: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://{self.host}:{self.server.server_address[1]}/hooks"

    def answer(self, headers: Any, body: bytes) -> int:
        ok = signature_valid(self.secret, headers["X-Pitcall-Timestamp"], body, headers["X-Pitcall-Signature"])
        delivery, event, host = headers["X-Pitcall-Delivery"], headers["X-Pitcall-Event"], headers["Host"]
        self.calls.append(Received(delivery, event, ok, json.loads(body), host))
        if not ok:
            return 401
        return self.statuses[min(len(self.calls) - 1, len(self.statuses) - 1)]


def _serve(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = receiver.answer(self.headers, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    started: list[Receiver] = []
    yield started
    for receiver in started:
        assert receiver.server is not None
        receiver.server.shutdown()
        receiver.server.server_close()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    instance = make_engine(db_url)
    yield instance
    instance.dispose()


def _adapters(egress: EgressPolicy) -> Adapters:
    poster = HttpWebhookPoster(DEV_WEBHOOK_KEY, timeout_s=2.0, egress=egress)
    return Adapters(webhook=poster, messages={c: LoggingSender(c) for c in ("sms", "email", "wechat")})


def _close(adapters: Adapters) -> None:
    assert isinstance(adapters.webhook, HttpWebhookPoster)
    adapters.webhook.close()


@pytest.fixture
def adapters() -> Iterator[Adapters]:
    instance = _adapters(LOOPBACK_LISTED)
    yield instance
    _close(instance)


def _receiver(receivers: list[Receiver], *statuses: int) -> Receiver:
    receiver = Receiver(list(statuses))
    receiver.server = _serve(receiver)
    receivers.append(receiver)
    return receiver


def _subscribe(world: World, receiver: Receiver, *, role: Role = Role.SERVICE_MANAGER, store: str = "A",
               event_types: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    body = {"url": receiver.url, "event_types": event_types or ["*"]}
    response = world.call("POST", "/api/v1/webhooks", role=role, store=store, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    receiver.secret = created["secret"]
    return created


def _round(engine: Engine, adapters: Adapters, now: datetime) -> None:
    run_once(engine, now, adapters=adapters, policy=POLICY)


def _sent(adapters: Adapters, channel: str = "sms") -> list[Any]:
    sender = adapters.messages[channel]
    assert isinstance(sender, LoggingSender)
    return list(sender.sent)


def test_webhook_is_signed_and_retried_until_the_receiver_accepts(
    world: World, engine: Engine, adapters: Adapters, receivers: list[Receiver]
) -> None:
    receiver = _receiver(receivers, 500, 500, 200)
    _subscribe(world, receiver, event_types=["alert.*"])
    _round(engine, adapters, T0)
    _round(engine, adapters, T0 + timedelta(seconds=1))  # backoff not over: no new call
    assert len(receiver.calls) == 1
    pending = world.call("GET", "/api/v1/deliveries", params={"state": "pending"}).json()["items"]
    webhook = next(d for d in pending if d["channel"] == "webhook")
    assert (webhook["attempts"], webhook["last_status"]) == (1, 500)
    _round(engine, adapters, T0 + LATER)
    _round(engine, adapters, T0 + 2 * LATER)
    assert [c.signature_ok for c in receiver.calls] == [True, True, True]
    assert {c.delivery_id for c in receiver.calls} == {str(webhook["id"])}  # one id: receivers can deduplicate
    assert receiver.calls[0].event == "alert.raised"
    assert receiver.calls[0].body["data"]["vehicle_id"] == world.stores["A"].vehicle_id
    done = world.call("GET", "/api/v1/deliveries", params={"state": "delivered"}).json()["items"]
    delivered = next(d for d in done if d["id"] == webhook["id"])
    assert (delivered["attempts"], delivered["last_status"], delivered["last_error"]) == (3, 200, None)
    _round(engine, adapters, T0 + 3 * LATER)
    assert len(receiver.calls) == 3


def test_failing_receiver_ends_dead_visible_and_retryable(
    world: World, engine: Engine, adapters: Adapters, receivers: list[Receiver]
) -> None:
    receiver = _receiver(receivers, 503)
    _subscribe(world, receiver, role=Role.INTEGRATION, event_types=["alert.raised"])
    for step in range(POLICY.max_attempts + 2):
        _round(engine, adapters, T0 + step * LATER)
    assert len(receiver.calls) == POLICY.max_attempts
    dead = world.call("GET", "/api/v1/deliveries", role=Role.INTEGRATION, params={"state": "dead"}).json()["items"]
    assert len(dead) == 1
    assert dead[0]["attempts"] == POLICY.max_attempts
    assert dead[0]["last_status"] == 503
    assert "HTTP 503" in dead[0]["last_error"]
    retried = world.call("POST", f"/api/v1/deliveries/{dead[0]['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["state"], retried.json()["attempts"]) == ("pending", 0)
    receiver.statuses = [204]
    _round(engine, adapters, datetime.now(UTC) + timedelta(seconds=1))
    assert world.call("GET", "/api/v1/deliveries", params={"state": "delivered", "subscription_id":
                      dead[0]["subscription_id"]}).json()["items"][0]["id"] == dead[0]["id"]  # fmt: skip
    again = world.call("POST", f"/api/v1/deliveries/{dead[0]['id']}/retry")
    assert again.status_code == 409
    assert again.json()["error"]["details"] == {"state": "delivered", "retryable": ["dead"]}


def test_events_of_store_b_never_reach_store_a(
    world: World, engine: Engine, adapters: Adapters, receivers: list[Receiver]
) -> None:
    a, b, group = (_receiver(receivers, 200) for _ in range(3))
    hook_a = _subscribe(world, a, store="A")
    hook_b = _subscribe(world, b, store="B")
    group_hook = _subscribe(world, group, role=Role.GROUP_ADMIN)
    assert group_hook["store_id"] is None
    _round(engine, adapters, T0)
    store = {code: world.stores[code].store_id for code in "ABX"}
    assert {c.body["store_id"] for c in a.calls} == {store["A"]}
    assert {c.body["store_id"] for c in b.calls} == {store["B"]}
    assert {c.body["store_id"] for c in group.calls} == {store["A"], store["B"]}  # not X: another group
    assert all(c.signature_ok for c in a.calls + b.calls + group.calls)
    seen_by_a = world.call("GET", "/api/v1/deliveries").json()["items"]
    assert seen_by_a and {d["store_id"] for d in seen_by_a} == {store["A"]}
    assert [w["id"] for w in world.call("GET", "/api/v1/webhooks").json()["items"]] == [hook_a["id"]]
    assert world.call("DELETE", f"/api/v1/webhooks/{hook_b['id']}").status_code == 404
    assert world.call("DELETE", f"/api/v1/webhooks/{group_hook['id']}").status_code == 404
    b_delivery = world.call("GET", "/api/v1/deliveries", store="B").json()["items"][0]["id"]
    assert world.call("POST", f"/api/v1/deliveries/{b_delivery}/retry").status_code == 404
    admin_view = world.call("GET", "/api/v1/webhooks", role=Role.GROUP_ADMIN).json()["items"]
    assert {w["id"] for w in admin_view} == {hook_a["id"], hook_b["id"], group_hook["id"]}


def test_dispatch_is_idempotent_and_safe_with_two_workers(
    world: World, engine: Engine, receivers: list[Receiver]
) -> None:
    _subscribe(world, _receiver(receivers, 200), store="A")
    with engine.connect() as first, engine.connect() as second:
        first.begin()
        taken = dispatch(first, T0)
        second.begin()
        assert dispatch(second, T0) == 0  # the first worker holds the rows: skipped, not waited for
        second.rollback()
        first.commit()
    assert taken == 3  # the open alert of each store
    with engine.begin() as conn:
        count = conn.scalar(select(func.count()).select_from(deliveries))
        assert dispatch(conn, T0) == 0
        conn.execute(update(outbox).values(dispatched_at=None))  # as if a worker died before marking
    with engine.begin() as conn:
        assert dispatch(conn, T0) == 3
        assert conn.scalar(select(func.count()).select_from(deliveries)) == count
    assert count == 1 + 3  # store A's webhook, one text message per store's consenting customer


def test_a_crash_between_call_and_record_causes_a_redelivery_not_a_loss(
    world: World, engine: Engine, adapters: Adapters, receivers: list[Receiver]
) -> None:
    class Crash(BaseException):
        pass

    class CrashAfterPosting:
        def post(self, call: WebhookCall) -> int:
            adapters.webhook.post(call)
            raise Crash

    receiver = _receiver(receivers, 200)
    _subscribe(world, receiver, event_types=["alert.raised"])
    with engine.begin() as conn:
        dispatch(conn, T0)
    crashing = Adapters(webhook=CrashAfterPosting(), messages=adapters.messages)
    with pytest.raises(Crash):
        deliver_due(engine, T0, crashing, policy=POLICY)
    assert len(receiver.calls) == 1
    deliver_due(engine, T0 + timedelta(seconds=10), adapters, policy=POLICY)
    assert len(receiver.calls) == 1  # claimed and not recorded: hidden for the lease
    deliver_due(engine, T0 + POLICY.lease + timedelta(seconds=1), adapters, policy=POLICY)
    assert [c.delivery_id for c in receiver.calls] == [receiver.calls[0].delivery_id] * 2
    state = world.call("GET", "/api/v1/deliveries", params={"state": "delivered"}).json()["items"]
    assert [d["channel"] for d in state].count("webhook") == 1


def test_customer_messages_respect_consent_channel_and_language(
    world: World, engine: Engine, adapters: Adapters
) -> None:
    a, b = world.stores["A"], world.stores["B"]
    with engine.begin() as conn:
        conn.execute(update(customers).where(customers.c.id == b.customer_id).values(consent_proactive_contact=False))
        conn.execute(update(customers).where(customers.c.id == a.customer_id).values(preferred_language="en"))
        emit(conn, store_id=b.store_id, event_type="booking.confirmed", subject_id=1,
             payload={"vehicle_id": b.vehicle_id, "starts_at": "2026-12-01T01:30:00+00:00",
                      "operation": "BAT-TEST-REPLACE"})  # fmt: skip
    _round(engine, adapters, T0)
    by_recipient = {m.recipient: m for m in _sent(adapters)}
    alert_a = by_recipient["13800000001"]
    assert alert_a.event_type == "alert.raised"
    assert alert_a.body.startswith("Dear Customer A,")
    assert "battery of your VW Lavida" in alert_a.body
    assert [m.event_type for m in _sent(adapters) if m.recipient == "13800000002"] == ["booking.confirmed"]
    confirmation = by_recipient["13800000002"]
    assert confirmation.language == "zh"
    assert "2026年12月1日 09:30" in confirmation.body
    assert "蓄电池" in confirmation.body
    assert "Store B" in confirmation.subject


def test_phone_customers_get_no_automatic_message_and_email_customers_get_email(
    world: World, engine: Engine, adapters: Adapters
) -> None:
    a, b = world.stores["A"], world.stores["B"]
    with engine.begin() as conn:
        conn.execute(update(customers).where(customers.c.id == a.customer_id).values(preferred_channel="phone"))
        conn.execute(update(customers).where(customers.c.id == b.customer_id).values(preferred_channel="email"))
    _round(engine, adapters, T0)
    assert {m.recipient for m in _sent(adapters, "sms")} == {"13800000003"}  # store X's customer
    assert [m.recipient for m in _sent(adapters, "email")] == ["cb@example.com"]


def test_deleting_a_webhook_abandons_its_pending_deliveries(
    world: World, engine: Engine, adapters: Adapters, receivers: list[Receiver]
) -> None:
    receiver = _receiver(receivers, 500)
    hook = _subscribe(world, receiver)
    _round(engine, adapters, T0)
    assert world.call("DELETE", f"/api/v1/webhooks/{hook['id']}").status_code == 204
    assert world.call("DELETE", f"/api/v1/webhooks/{hook['id']}").status_code == 404
    _round(engine, adapters, T0 + LATER)
    assert len(receiver.calls) == 1
    dead = world.call("GET", "/api/v1/deliveries", params={"state": "dead"}).json()["items"]
    assert [d["last_error"] for d in dead] == ["the webhook subscription was deleted"]
    assert world.call("POST", f"/api/v1/deliveries/{dead[0]['id']}/retry").status_code == 409
    assert world.call("GET", "/api/v1/webhooks").json()["items"] == []


def test_the_egress_guard_kills_webhooks_to_unlisted_internal_addresses_without_calling_them(
    world: World, engine: Engine, receivers: list[Receiver]
) -> None:
    receiver = _receiver(receivers, 200)
    receiver.host = "localhost"  # a name, resolved by the guard, must still reach the receiver as a name
    hook = _subscribe(world, receiver, event_types=["alert.raised"])
    public_only = _adapters(EgressPolicy.of(["10.0.0.0/8"]))  # a listed network, but not the receiver's
    try:
        _round(engine, public_only, T0)
    finally:
        _close(public_only)
    assert receiver.calls == []
    dead = world.call("GET", "/api/v1/deliveries", params={"state": "dead"}).json()["items"]
    assert [(d["subscription_id"], d["attempts"]) for d in dead] == [(hook["id"], 1)]  # dead at once: no retries
    assert dead[0]["last_error"] == (
        "webhook to localhost refused by the egress guard: 127.0.0.1 is a loopback address; "
        f"list its network in {ALLOWED_NETWORKS_ENV} to allow it"
    )
    assert world.call("POST", f"/api/v1/deliveries/{dead[0]['id']}/retry").status_code == 200
    listed = _adapters(EgressPolicy.of(["127.0.0.0/8", "::1/128"]))  # localhost may also be ::1
    try:
        _round(engine, listed, T0 + LATER)
    finally:
        _close(listed)
    assert [(c.event, c.signature_ok) for c in receiver.calls] == [("alert.raised", True)]
    assert receiver.server is not None
    assert receiver.calls[0].host == f"localhost:{receiver.server.server_address[1]}"  # not the address dialled
    delivered = world.call("GET", "/api/v1/deliveries", params={"state": "delivered"}).json()["items"]
    assert [d["id"] for d in delivered if d["channel"] == "webhook"] == [dead[0]["id"]]


def test_subscription_rules(world: World) -> None:
    url = "https://crm.example.com/hooks"
    for role in (Role.SERVICE_ADVISOR, Role.TECHNICIAN):
        response = world.call("POST", "/api/v1/webhooks", role=role, json={"url": url, "event_types": ["*"]})
        assert response.status_code == 403, role
    for body in ({"url": "ftp://crm.example.com/x", "event_types": ["*"]},
                 {"url": url, "event_types": ["alert.exploded"]},
                 {"url": url, "event_types": []}):  # fmt: skip
        assert world.call("POST", "/api/v1/webhooks", json=body).status_code == 422, body
    other = {"url": url, "event_types": ["*"], "store_id": world.stores["B"].store_id}
    assert world.call("POST", "/api/v1/webhooks", json=other).status_code == 404
    created = world.call("POST", "/api/v1/webhooks", json={"url": url, "event_types": ["work_order.*", "alert.raised"]})
    assert created.json()["store_id"] == world.stores["A"].store_id
    assert created.json()["event_types"] == ["alert.raised", "work_order.*"]
    listed = world.call("GET", "/api/v1/webhooks", role=Role.INTEGRATION).json()["items"]
    assert "secret" not in listed[0]
    forged = encode_cursor(["1 OR 1=1"])
    assert world.call("GET", "/api/v1/deliveries", params={"cursor": forged}).status_code == 422
    assert world.call("POST", f"/api/v1/deliveries/{10**20}/retry").status_code == 422


def test_notify_command_delivers_and_stops_on_sigterm(
    world: World, db_url: str, engine: Engine, receivers: list[Receiver]
) -> None:
    receiver = _receiver(receivers, 200)
    _subscribe(world, receiver, event_types=["alert.raised"])
    command = "from api.notifications.cli import app; app(prog_name='pitcall notify')"
    env = {**os.environ, "PITCALL_NOTIFY_DATABASE_URL": db_url, "PITCALL_NOTIFY_INTERVAL_S": "0.1"}
    process = subprocess.Popen([sys.executable, "-c", command], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not receiver.calls and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)  # waiting for another process, not standing in for time
    finally:
        process.send_signal(signal.SIGTERM)
        _, logs = process.communicate(timeout=30)
    assert process.returncode == 0, logs
    assert [c.event for c in receiver.calls] == ["alert.raised"]
    messages = [json.loads(line)["msg"] for line in logs.splitlines() if line.startswith("{")]
    assert "customer message" in messages  # the logging adapter's text messages
    assert messages[-1] == "notifier stopped"
