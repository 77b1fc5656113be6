"""Request dependencies shared by every router: the caller, their store scope, their role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Cookie, Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from api.auth.hashing import PasswordHashing
from api.auth.service import KEY_PREFIX, principal_from_key, principal_from_token
from api.db import Db
from api.errors import Unauthorized
from api.settings import ApiSettings
from api.tenancy import EVERYONE, MANAGERS, STAFF, Principal, Role, StoreScope

SESSION_COOKIE = "pitcall_session"  # the console's access token: HttpOnly, SameSite=Strict, path /
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An integration's API key")


def settings_of(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


Settings = Annotated[ApiSettings, Depends(settings_of)]


def hashing_of(request: Request) -> PasswordHashing:
    hashing: PasswordHashing = request.app.state.hashing
    return hashing


Hashing = Annotated[PasswordHashing, Depends(hashing_of)]


def current_principal(
    db: Db,
    settings: Settings,
    bearer: Annotated[str | None, Depends(oauth2)],
    api_key: Annotated[str | None, Depends(api_key_header)],
    session: Annotated[str | None, Cookie(alias=SESSION_COOKIE, include_in_schema=False)] = None,
) -> Principal:
    """Authenticate by API key (X-API-Key, or a Bearer value starting pck_), by a person's JWT, or by the
    console's session cookie (the same JWT; SameSite=Strict keeps other sites from riding on it)."""
    if api_key:
        return principal_from_key(db, api_key)
    if bearer and bearer.startswith(KEY_PREFIX):
        return principal_from_key(db, bearer)
    if bearer:
        return principal_from_token(db, bearer, secret=settings.jwt_secret.get_secret_value())
    if session:
        return principal_from_token(db, session, secret=settings.jwt_secret.get_secret_value())
    raise Unauthorized("not authenticated: send a bearer token or an X-API-Key")


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def scope_of(principal: CurrentPrincipal) -> StoreScope:
    return StoreScope(principal.store_ids)


Scope = Annotated[StoreScope, Depends(scope_of)]


def allow(roles: frozenset[Role]) -> Callable[[Principal], Principal]:
    """A dependency that lets only `roles` through (403 otherwise)."""

    def check(principal: CurrentPrincipal) -> Principal:
        principal.require(roles)
        return principal

    return check


Anyone = Annotated[Principal, Depends(allow(EVERYONE))]
Staff = Annotated[Principal, Depends(allow(STAFF))]
Managers = Annotated[Principal, Depends(allow(MANAGERS))]
Workshop = Annotated[
    Principal,
    Depends(allow(frozenset({Role.SERVICE_MANAGER, Role.SERVICE_ADVISOR, Role.TECHNICIAN, Role.GROUP_ADMIN}))),
]
StaffOrIntegration = Annotated[Principal, Depends(allow(STAFF | {Role.INTEGRATION}))]
ManagersOrIntegration = Annotated[Principal, Depends(allow(MANAGERS | {Role.INTEGRATION}))]
