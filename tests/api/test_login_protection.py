"""Log-in protection (issue 18, item 4): failed log-ins throttled per account and per client address with
backoff and 429 + Retry-After before any hashing, a lock an admin clears (API and CLI), the rule's
clock moved rather than slept, and argon2's memory bounded by a hashing concurrency limit."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api.auth import throttle
from api.tenancy import Role
from pitcall.cli import app as cli
from store.db import make_engine
from store.service_tables import login_failures, users
from tests.api.server import running_api
from tests.api_world import PASSWORD, World

TOKEN = "/api/v1/auth/token"
MiB = 1024 * 1024


def log_in(world: World, username: str, password: str) -> httpx.Response:
    response: httpx.Response = world.app_client.post(TOKEN, data={"username": username, "password": password})
    return response


def password_hashes(world: World) -> float:
    found = re.search(r"^pitcall_api_password_hashes_total (\S+)$", world.app_client.get("/metrics").text, re.M)
    assert found, "the metric pitcall_api_password_hashes_total is missing"
    return float(found.group(1))


def user_id(db_url: str, username: str) -> int:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        found = conn.scalar(select(users.c.id).where(users.c.username == username))
    engine.dispose()
    assert found is not None
    return int(found)


def test_an_account_is_locked_after_five_failures_and_429s_without_hashing(world: World, db_url: str) -> None:
    admin = world.headers(Role.GROUP_ADMIN)  # tokens first: the address counts these failures too
    advisor = world.stores["A"].users[Role.SERVICE_ADVISOR]
    statuses = [log_in(world, advisor, f"wrong-{i}").status_code for i in range(6)]
    assert statuses == [401] * 6  # five free failures; the sixth still checked, and locks for 1 s
    hashes = password_hashes(world)
    refused = log_in(world, advisor, PASSWORD)  # even the right password, while locked
    assert refused.status_code == 429, refused.text
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["error"]["code"] == "too_many_attempts"
    assert refused.json()["error"]["details"]["locked"] == "account"
    assert password_hashes(world) == hashes, "a locked account must cost no hashing"
    other = log_in(world, world.stores["A"].users[Role.TECHNICIAN], PASSWORD)
    assert other.status_code == 200, "one account's lock must not lock the others"

    cleared = world.app_client.delete(f"/api/v1/users/{user_id(db_url, advisor)}/lockout", headers=admin)
    assert cleared.status_code == 204, cleared.text
    assert log_in(world, advisor, PASSWORD).status_code == 200


def test_a_burst_of_wrong_passwords_is_mostly_refused_before_hashing(world: World) -> None:
    """Issue 18: 320 wrong passwords were 320 × 401 and 320 argon2 hashes."""
    assert log_in(world, "warm-up", "first makes the dummy hash").status_code == 401
    hashes = password_hashes(world)
    statuses = [log_in(world, "manager_of_nothing", f"guess-{i}").status_code for i in range(60)]
    hashed = password_hashes(world) - hashes
    assert statuses[:6] == [401] * 6
    assert statuses.count(429) >= 40, statuses
    assert set(statuses) == {401, 429}
    assert hashed == statuses.count(401) and hashed <= 10  # locks of 1, 2, 4 s… outlast the loop


def test_an_address_is_locked_after_twenty_failures_and_the_cli_unlocks_it(
    world: World, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    statuses = [log_in(world, f"nobody-{i}", "wrong password").status_code for i in range(21)]
    assert statuses == [401] * 21  # twenty free (an office may share an address); the 21st locks it
    refused = log_in(world, world.stores["A"].users[Role.TECHNICIAN], PASSWORD)
    assert refused.status_code == 429 and refused.json()["error"]["details"]["locked"] == "address"

    monkeypatch.setenv("PITCALL_API_DATABASE_URL", db_url)
    result = CliRunner().invoke(cli, ["users", "unlock", "--address", "testclient"])
    assert result.exit_code == 0 and "unlocked" in result.output, result.output
    assert log_in(world, world.stores["A"].users[Role.TECHNICIAN], PASSWORD).status_code == 200


def test_a_manager_clears_only_locks_of_their_own_store(world: World, db_url: str) -> None:
    b_tech = user_id(db_url, world.stores["B"].users[Role.TECHNICIAN])
    a_tech = user_id(db_url, world.stores["A"].users[Role.TECHNICIAN])
    assert world.call("DELETE", f"/api/v1/users/{b_tech}/lockout").status_code == 404
    assert world.call("DELETE", f"/api/v1/users/{a_tech}/lockout", role=Role.SERVICE_ADVISOR).status_code == 403
    assert world.call("DELETE", f"/api/v1/users/{a_tech}/lockout").status_code == 204


POLICY = throttle.LoginPolicy(
    account=throttle.Backoff(free_failures=5, base_s=1, max_s=900),
    address=throttle.Backoff(free_failures=20, base_s=1, max_s=900),
    window=timedelta(hours=1),
)


def test_backoff_doubles_from_the_first_lock_up_to_the_longest() -> None:
    locks = [POLICY.account.lock_for(n) for n in range(1, 20)]
    assert locks[:5] == [None] * 5
    assert [lock.total_seconds() for lock in locks[5:] if lock is not None] == [
        1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900
    ]  # fmt: skip


def test_locks_expire_and_old_failures_are_forgotten_as_time_moves(db_url: str) -> None:
    """The rule on the real table, with the clock as a parameter: no sleeping."""
    start = datetime(2026, 12, 7, 9, tzinfo=UTC)
    engine = make_engine(db_url)

    def fail(at: datetime) -> None:
        with engine.begin() as conn:
            throttle.record_failure(conn, throttle.Attempt("li.manager", "10.1.2.3", at), POLICY)

    def check(at: datetime) -> int | None:
        with engine.connect() as conn:
            try:
                throttle.check(conn, throttle.Attempt("Li.Manager ", "192.0.2.9", at))
            except throttle.LoginThrottled as exc:
                return exc.retry_after_s
        return None

    for i in range(7):
        fail(start + timedelta(seconds=i))  # the 6th locks 1 s, the 7th 2 s from 09:00:06
    assert check(start + timedelta(seconds=6)) == 2  # the account, whatever the case and the address
    assert check(start + timedelta(seconds=8)) is None  # the lock is over
    fail(start + timedelta(hours=2))  # after the window: counted from 1 again, no lock
    assert check(start + timedelta(hours=2)) is None
    with engine.connect() as conn:
        assert [(lock.kind, lock.key) for lock in throttle.locks(conn, now=start + timedelta(hours=2))] == []
        rows = conn.execute(select(login_failures)).all()
    assert {(r.kind, r.key, r.failures) for r in rows} == {("account", "li.manager", 1), ("address", "10.1.2.3", 1)}
    engine.dispose()


def _peak_rss(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _parallel_wrong_log_ins(base: str, count: int) -> list[int]:
    def attempt(i: int) -> int:
        data = {"username": f"stranger-{i}", "password": "not the password"}
        return httpx.post(f"{base}{TOKEN}", data=data, timeout=60).status_code

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(attempt, range(count)))


def test_parallel_log_ins_hash_two_at_a_time_on_a_real_server(world: World, db_url: str, tmp_path: Path) -> None:
    """Issue 18: 8 parallel log-ins took the API from 215 to 728 MB (64 MiB per argon2 hash, all at once)."""
    env = {"PITCALL_API_HASH_WAIT_S": "60"}  # measure memory, not the 503 of a slot not had in time
    with running_api(db_url, log=tmp_path / "api.log", env=env) as api:
        assert _parallel_wrong_log_ins(api.base, 2) == [401, 401]  # warm: the dummy hash, a thread's arena
        before = _peak_rss(api.pid)
        statuses = _parallel_wrong_log_ins(api.base, 16)
        growth = _peak_rss(api.pid) - before
    assert statuses == [401] * 16
    print(f"peak RSS {before / MiB:.0f} MiB before 16 parallel wrong log-ins, +{growth / MiB:.0f} MiB during")
    assert growth < 3 * 64 * MiB, f"peak RSS grew {growth / MiB:.0f} MiB: more than two hashes ran at once"
