"""Log-in throttling: failed log-ins counted per account and per client address, with exponential backoff.

The counters live in PostgreSQL (`login_failures`), not in the process: the API may run several
uvicorn workers, and a lockout an admin clears (API or CLI) must be cleared for all of them. A locked
account or address answers 429 with Retry-After *before* any password is hashed, so a locked-out
guesser costs no argon2 work. Unknown usernames are counted like real ones (no enumeration).

Rule (per kind): the first `free_failures` failures in a row are free; failure number free + n locks
for base × 2^(n-1) seconds, at most `max_s`. Failures older than `window` are forgotten; a successful
log-in forgets the account's (not the address's: a guesser's own account must not reset it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, and_, case, delete, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from api.errors import TooManyAttempts
from store.service_tables import login_failures

KEY_LENGTH = 200  # the column's width


class Kind(StrEnum):
    ACCOUNT = "account"
    ADDRESS = "address"


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long the n-th failure in a row locks."""

    free_failures: int
    base_s: float
    max_s: float

    def lock_for(self, failures: int) -> timedelta | None:
        """Return the lock that the `failures`-th failure in a row starts (None while free)."""
        over = failures - self.free_failures
        if over <= 0:
            return None
        return timedelta(seconds=min(self.max_s, self.base_s * 2.0 ** min(over - 1, 40)))


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    account: Backoff
    address: Backoff
    window: timedelta  # failures older than this are forgotten

    def backoff(self, kind: Kind) -> Backoff:
        return self.account if kind is Kind.ACCOUNT else self.address


@dataclass(frozen=True, slots=True)
class Attempt:
    """One log-in attempt: who it names, where it comes from, when."""

    username: str
    address: str
    at: datetime

    def counters(self) -> list[tuple[Kind, str]]:
        return [(Kind.ACCOUNT, account_key(self.username)), (Kind.ADDRESS, self.address[:KEY_LENGTH])]


class LoginThrottled(TooManyAttempts):
    """Too many failed log-ins for this account or from this address."""

    def __init__(self, kind: Kind, retry_after_s: int) -> None:
        super().__init__(
            f"too many failed log-ins for this {kind.value}; try again in {retry_after_s} s",
            retry_after_s=retry_after_s,
            details={"locked": kind.value},
        )
        self.kind = kind


def account_key(username: str) -> str:
    return username.strip().lower()[:KEY_LENGTH]


def check(conn: Connection, attempt: Attempt) -> None:
    """Raise LoginThrottled if the attempt's account or address is locked at `attempt.at`."""
    f = login_failures.c
    rows = conn.execute(
        select(f.kind, f.locked_until).where(tuple_(f.kind, f.key).in_(attempt.counters()), f.locked_until > attempt.at)
    ).all()
    if rows:
        longest = max(rows, key=lambda r: r.locked_until)
        wait_s = max(1, math.ceil((longest.locked_until - attempt.at).total_seconds()))
        raise LoginThrottled(Kind(longest.kind), wait_s)


def record_failure(conn: Connection, attempt: Attempt, policy: LoginPolicy) -> None:
    """Count a failed log-in for its account and address, lock them if past the free failures, and
    forget failures older than the window."""
    f = login_failures.c
    forgotten = f.last_failure_at < attempt.at - policy.window
    for kind, key in attempt.counters():
        statement = pg_insert(login_failures).values(kind=kind.value, key=key, failures=1, last_failure_at=attempt.at)
        statement = statement.on_conflict_do_update(
            index_elements=[f.kind, f.key],
            set_={
                "failures": case((forgotten, 1), else_=f.failures + 1),
                "locked_until": case((forgotten, None), else_=f.locked_until),
                "last_failure_at": attempt.at,
            },
        )
        failures = int(conn.scalar(statement.returning(f.failures)) or 0)
        lock = policy.backoff(kind).lock_for(failures)
        if lock is not None:
            conn.execute(
                update(login_failures).where(f.kind == kind.value, f.key == key).values(locked_until=attempt.at + lock)
            )
    conn.execute(
        delete(login_failures).where(
            f.last_failure_at < attempt.at - policy.window,
            or_(f.locked_until.is_(None), f.locked_until < attempt.at),
        )
    )


def record_success(conn: Connection, attempt: Attempt) -> None:
    """Forget the account's failures (the address's stay until they age out)."""
    f = login_failures.c
    conn.execute(delete(login_failures).where(f.kind == Kind.ACCOUNT.value, f.key == account_key(attempt.username)))


def clear(conn: Connection, *, kind: Kind, key: str) -> bool:
    """Forget an account's or an address's failures and lock; tell whether there were any."""
    f = login_failures.c
    stored_key = account_key(key) if kind is Kind.ACCOUNT else key
    result = conn.execute(delete(login_failures).where(and_(f.kind == kind.value, f.key == stored_key)))
    return bool(result.rowcount)


@dataclass(frozen=True, slots=True)
class Lock:
    kind: Kind
    key: str
    failures: int
    locked_until: datetime | None


def locks(conn: Connection, *, now: datetime) -> list[Lock]:
    """Accounts and addresses locked at `now`, longest first."""
    f = login_failures.c
    rows = conn.execute(select(login_failures).where(f.locked_until > now).order_by(f.locked_until.desc()))
    return [Lock(Kind(r.kind), r.key, r.failures, r.locked_until) for r in rows]
