"""People and integrations: password hashes (argon2), log-in with throttling, access tokens (JWT), API
keys (SHA-256)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import Connection, Engine, insert, select, update

from api.auth import throttle
from api.auth.hashing import PasswordHashing
from api.errors import Conflict, Unauthorized
from api.tenancy import Principal, Role
from store.service_tables import api_keys, users
from store.tables import stores

KEY_PREFIX = "pck_"
ALGORITHM = "HS256"
TOOL_HASHING = PasswordHashing(concurrency=2, wait_s=60)  # the CLI's and seeds' (the API passes its own)


def store_ids_of(conn: Connection, *, group_id: int, store_id: int | None) -> frozenset[int]:
    if store_id is not None:
        return frozenset({store_id})
    return frozenset(int(i) for i in conn.scalars(select(stores.c.id).where(stores.c.group_id == group_id)))


def create_user(
    conn: Connection,
    *,
    username: str,
    password: str,
    role: Role,
    group_id: int,
    store_id: int | None,
    display_name: str = "",
    language: str = "zh",
    hashing: PasswordHashing = TOOL_HASHING,
) -> int:
    """Add a person; raise Conflict if the username is taken."""
    if conn.scalar(select(users.c.id).where(users.c.username == username)) is not None:
        raise Conflict(f"username {username!r} is taken")
    return int(
        conn.scalar(
            insert(users)
            .values(
                username=username,
                password_hash=hashing.hash(password),
                role=role.value,
                group_id=group_id,
                store_id=store_id,
                display_name=display_name or username,
                language=language,
            )
            .returning(users.c.id)
        )
    )


def authenticate_user(
    conn: Connection, *, username: str, password: str, hashing: PasswordHashing = TOOL_HASHING
) -> Principal:
    """Check a person's password; raise Unauthorized (same message for unknown user and bad password)."""
    row = conn.execute(select(users).where(users.c.username == username, users.c.active)).first()
    if row is None:
        hashing.waste_time(password)  # same time as a real check
        raise Unauthorized("wrong username or password")
    if not hashing.verify(password, row.password_hash):
        raise Unauthorized("wrong username or password")
    return _user_principal(conn, row)


def log_in(
    engine: Engine,
    conn: Connection,
    *,
    attempt: throttle.Attempt,
    password: str,
    policy: throttle.LoginPolicy,
    hashing: PasswordHashing,
) -> Principal:
    """Check the throttle, then the password. Raise LoginThrottled (429) before any hashing if the
    account or address is locked, Unauthorized on a wrong password. A failure is counted in a transaction
    of its own on `engine` (it must outlive the request's, which rolls back on the 401); a success
    forgets the account's failures in `conn`."""
    throttle.check(conn, attempt)
    try:
        principal = authenticate_user(conn, username=attempt.username, password=password, hashing=hashing)
    except Unauthorized:
        with engine.begin() as own:
            throttle.record_failure(own, attempt, policy)
        raise
    throttle.record_success(conn, attempt)
    return principal


def _user_principal(conn: Connection, row: Any) -> Principal:
    return Principal(
        kind="user",
        id=row.id,
        name=row.username,
        role=Role(row.role),
        group_id=row.group_id,
        store_id=row.store_id,
        store_ids=store_ids_of(conn, group_id=row.group_id, store_id=row.store_id),
        language=row.language,
    )


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_at: datetime


def issue_token(principal: Principal, *, secret: str, minutes: int, now: datetime | None = None) -> AccessToken:
    """Sign a short-lived access token for a person."""
    issued = now or datetime.now(UTC)
    expires = issued + timedelta(minutes=minutes)
    claims = {"sub": str(principal.id), "typ": "access", "iat": issued, "exp": expires}
    return AccessToken(jwt.encode(claims, secret, algorithm=ALGORITHM), expires)


def principal_from_token(conn: Connection, token: str, *, secret: str) -> Principal:
    """Verify a JWT and load its person as they are now (role or store changes apply at once)."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the access token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("the access token is not valid") from exc
    if claims.get("typ") != "access" or not str(claims["sub"]).isdigit():
        raise Unauthorized("the access token is not valid")
    row = conn.execute(select(users).where(users.c.id == int(claims["sub"]), users.c.active)).first()
    if row is None:
        raise Unauthorized("the access token's user no longer exists or is disabled")
    return _user_principal(conn, row)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    id: int
    key: str  # shown once


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(conn: Connection, *, name: str, group_id: int, store_id: int | None) -> NewApiKey:
    """Create an integration key scoped to one store (or the group); only its hash is kept."""
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key_id = conn.scalar(
        insert(api_keys)
        .values(name=name, group_id=group_id, store_id=store_id, key_prefix=prefix, key_hash=_key_hash(key))
        .returning(api_keys.c.id)
    )
    return NewApiKey(int(key_id), key)


def revoke_api_key(conn: Connection, *, key_id: int) -> None:
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=datetime.now(UTC)))


def principal_from_key(conn: Connection, key: str) -> Principal:
    """Check an integration key; raise Unauthorized if unknown, wrong or revoked."""
    parts = key.removeprefix(KEY_PREFIX).split("_", 1)
    if not key.startswith(KEY_PREFIX) or len(parts) != 2:
        raise Unauthorized("the API key is not valid")
    row = conn.execute(select(api_keys).where(api_keys.c.key_prefix == parts[0])).first()
    if row is None or not hmac.compare_digest(row.key_hash, _key_hash(key)):
        raise Unauthorized("the API key is not valid")
    if row.revoked_at is not None:
        raise Unauthorized("the API key has been revoked")
    return Principal(
        kind="key",
        id=row.id,
        name=row.name,
        role=Role.INTEGRATION,
        group_id=row.group_id,
        store_id=row.store_id,
        store_ids=store_ids_of(conn, group_id=row.group_id, store_id=row.store_id),
        language="en",
    )
