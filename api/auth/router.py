"""Log-in (OAuth2 password flow), the caller's identity, people and integration keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from api.auth import schemas, service, throttle
from api.db import Db, engine_of
from api.deps import SESSION_COOKIE, Anyone, Hashing, Managers, Scope, Settings
from api.errors import ERROR_RESPONSES, ErrorBody, Forbidden, Invalid, NotFound
from api.tenancy import Role
from store.service_tables import api_keys, users

router = APIRouter(tags=["auth"], responses=ERROR_RESPONSES)
LOGIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "Too many failed log-ins (account or address); see Retry-After"},
    503: {"model": ErrorBody, "description": "Too many log-ins being checked at once; see Retry-After"},
}
Form = Annotated[OAuth2PasswordRequestForm, Depends()]


@router.post("/auth/token", response_model=schemas.TokenOut, responses=LOGIN_RESPONSES)
def log_in(form: Form, request: Request, db: Db, settings: Settings, hashing: Hashing) -> schemas.TokenOut:
    """Exchange a username and password for a short-lived access token.

    Failed log-ins are throttled per account and per client address (429 with Retry-After, docs/api.md).
    """
    attempt = throttle.Attempt(
        username=form.username, address=request.client.host if request.client else "unknown", at=datetime.now(UTC)
    )
    try:
        principal = service.log_in(
            engine_of(request), db, attempt=attempt, password=form.password,
            policy=request.app.state.login_policy, hashing=hashing,
        )  # fmt: skip
    except throttle.LoginThrottled as exc:
        request.app.state.metrics.login_throttled.labels(exc.kind.value).inc()
        raise
    token = service.issue_token(
        principal, secret=settings.jwt_secret.get_secret_value(), minutes=settings.token_minutes
    )
    return schemas.TokenOut(access_token=token.token, expires_at=token.expires_at)


@router.post("/auth/session", response_model=schemas.TokenOut, responses=LOGIN_RESPONSES)
def open_session(
    form: Form, request: Request, db: Db, settings: Settings, hashing: Hashing, response: Response
) -> schemas.TokenOut:
    """Log in for the console: the access token is also set as an HttpOnly, SameSite=Strict cookie."""
    token = log_in(form, request, db, settings, hashing)
    response.set_cookie(
        SESSION_COOKIE,
        token.access_token,
        max_age=settings.token_minutes * 60,
        httponly=True,
        samesite="strict",
        secure=settings.environment != "development",
        path="/",
    )
    return token


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def close_session(response: Response) -> None:
    """Forget the console's session cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=schemas.MeOut)
def me(principal: Anyone) -> schemas.MeOut:
    """Who the caller is and which stores they see."""
    return schemas.MeOut(
        kind=principal.kind,
        id=principal.id,
        name=principal.name,
        role=principal.role,
        group_id=principal.group_id,
        store_id=principal.store_id,
        store_ids=sorted(principal.store_ids),
        language=principal.language,
    )


@router.post("/users", response_model=schemas.UserOut, status_code=status.HTTP_201_CREATED)
def create_user(body: schemas.UserIn, db: Db, principal: Managers, scope: Scope, hashing: Hashing) -> schemas.UserOut:
    """Add a person to a store (service managers: their own store; group admins: any store of the group)."""
    if body.role is Role.INTEGRATION:
        raise Invalid("integrations use API keys, not users")
    if body.role is Role.GROUP_ADMIN:
        if principal.role is not Role.GROUP_ADMIN:
            raise Forbidden("only a group admin may create a group admin")
        store_id = None
    else:
        if body.store_id is None:
            raise Invalid("store_id is required for this role")
        store_id = scope.check(body.store_id)
    user_id = service.create_user(
        db,
        username=body.username,
        password=body.password,
        role=body.role,
        group_id=principal.group_id,
        store_id=store_id,
        display_name=body.display_name,
        language=body.language,
        hashing=hashing,
    )
    return schemas.UserOut(id=user_id, username=body.username, role=body.role, store_id=store_id)


@router.post("/api-keys", response_model=schemas.ApiKeyOut, status_code=status.HTTP_201_CREATED)
def create_api_key(body: schemas.ApiKeyIn, db: Db, principal: Managers, scope: Scope) -> schemas.ApiKeyOut:
    """Create a key for another system; the key is in this response only."""
    if body.store_id is None and principal.role is not Role.GROUP_ADMIN:
        raise Forbidden("only a group admin may create a group-wide key")
    store_id = None if body.store_id is None else scope.check(body.store_id)
    key = service.create_api_key(db, name=body.name, group_id=principal.group_id, store_id=store_id)
    return schemas.ApiKeyOut(id=key.id, name=body.name, store_id=store_id, key=key.key)


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_api_key(key_id: int, db: Db, principal: Managers, scope: Scope) -> None:
    """Revoke a key at once."""
    row = db.execute(select(api_keys).where(api_keys.c.id == key_id, api_keys.c.group_id == principal.group_id)).first()
    if row is None or (row.store_id is not None and not scope.owns(row.store_id)):
        raise NotFound(f"no API key {key_id}")
    if row.store_id is None and principal.role is not Role.GROUP_ADMIN:
        raise NotFound(f"no API key {key_id}")
    service.revoke_api_key(db, key_id=key_id)


@router.delete("/users/{user_id}/lockout", status_code=status.HTTP_204_NO_CONTENT)
def clear_lockout(user_id: int, db: Db, principal: Managers, scope: Scope) -> None:
    """Forget a person's failed log-ins and lift their lock at once (their store's manager or a group admin).

    A locked client address is cleared with `pitcall users unlock --address`.
    """
    row = db.execute(select(users).where(users.c.id == user_id, users.c.group_id == principal.group_id)).first()
    if row is None or (row.store_id is not None and not scope.owns(row.store_id)):
        raise NotFound(f"no user {user_id}")
    if row.store_id is None and principal.role is not Role.GROUP_ADMIN:
        raise NotFound(f"no user {user_id}")
    throttle.clear(db, kind=throttle.Kind.ACCOUNT, key=row.username)
