"""`pitcall api` (serve the API), `pitcall users ...` and `pitcall keys ...` (people and integrations)."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from sqlalchemy import select

from api.auth import service, throttle
from api.auth.schemas import person_problems
from api.errors import ApiError
from api.settings import ApiSettings
from api.tenancy import Role
from store.db import DEFAULT_DATABASE_URL, make_engine
from store.tables import stores

users_app = typer.Typer(help="People who log in to the API and console.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of the dealership's other systems (CRM, parts, BI).", no_args_is_help=True)
console = Console(stderr=True)


class AccountToolSettings(BaseSettings):
    """What `pitcall users` and `pitcall keys` need: the API's database (not its secrets)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str = Field(
        DEFAULT_DATABASE_URL, validation_alias=AliasChoices("PITCALL_API_DATABASE_URL", "PITCALL_DATABASE_URL")
    )


def _settings() -> AccountToolSettings:
    return AccountToolSettings()


def serve(
    host: Annotated[str | None, typer.Option(help="default: PITCALL_API_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="default: PITCALL_API_PORT or 8080")] = None,
    workers: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Run the HTTP API (settings from PITCALL_API_* variables; docs/api.md). Refuses to start with the
    development secrets outside development, or with the development JWT secret beyond loopback."""
    import uvicorn

    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    try:
        settings = ApiSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(str(error["msg"]).removeprefix("Value error, ") for error in exc.errors())
        console.print(f"[red]error:[/red] API settings: {problems}")
        raise typer.Exit(code=2) from exc
    os.environ["PITCALL_API_HOST"] = settings.host  # the workers' create_app() reads the same bind
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level="info",
        proxy_headers=settings.forwarded_allow_ips is not None,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


def _store_and_group(store_code: str | None, group_id: int | None) -> tuple[int, int | None]:
    if store_code is not None:
        engine = make_engine(_settings().database_url)
        with engine.connect() as conn:
            row = conn.execute(select(stores.c.id, stores.c.group_id).where(stores.c.code == store_code)).first()
        engine.dispose()
        if row is None:
            console.print(f"[red]error:[/red] no store with code {store_code}")
            raise typer.Exit(code=1)
        return int(row.group_id), int(row.id)
    if group_id is None:
        console.print("[red]error:[/red] give --store (a store code) or --group (for group-wide access)")
        raise typer.Exit(code=1)
    return group_id, None


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[Role, typer.Option(help="service_manager, service_advisor, technician or group_admin")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    store: Annotated[str | None, typer.Option(help="store code (every role but group_admin)")] = None,
    group: Annotated[int | None, typer.Option(help="dealer group id (group_admin)")] = None,
    language: Annotated[str, typer.Option(help="zh or en")] = "zh",
) -> None:
    """Add a person who logs in with a password (kept as an argon2 hash); the API's rules apply."""
    if role is Role.INTEGRATION:
        console.print("[red]error:[/red] integrations use `pitcall keys add`")
        raise typer.Exit(code=1)
    problems = person_problems(username=username, password=password)
    if problems:
        console.print("[red]error:[/red] " + "; ".join(problems))
        raise typer.Exit(code=1)
    group_id, store_id = _store_and_group(None if role is Role.GROUP_ADMIN else store, group)
    engine = make_engine(_settings().database_url)
    try:
        with engine.begin() as conn:
            user_id = service.create_user(
                conn, username=username, password=password, role=role, group_id=group_id, store_id=store_id,
                language=language,
            )  # fmt: skip
    except ApiError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(code=1) from exc
    finally:
        engine.dispose()
    console.print(f"user {username} ({role}) added, id {user_id}")


@users_app.command("unlock")
def users_unlock(
    username: Annotated[str | None, typer.Argument(help="the account to unlock")] = None,
    address: Annotated[str | None, typer.Option(help="a client address to unlock instead")] = None,
) -> None:
    """Forget the failed log-ins of an account (or of a client address) and lift its lock at once."""
    if (username is None) == (address is None):
        console.print("[red]error:[/red] give a username or --address")
        raise typer.Exit(code=1)
    kind, key = (throttle.Kind.ACCOUNT, username) if username is not None else (throttle.Kind.ADDRESS, address)
    assert key is not None
    engine = make_engine(_settings().database_url)
    with engine.begin() as conn:
        cleared = throttle.clear(conn, kind=kind, key=key)
    engine.dispose()
    outcome = "failed log-ins forgotten, unlocked" if cleared else "had no failed log-ins"
    console.print(f"{kind.value} {key}: {outcome}")


@keys_app.command("add")
def keys_add(
    name: str,
    store: Annotated[str | None, typer.Option(help="store code; omit with --group for a group-wide key")] = None,
    group: Annotated[int | None, typer.Option(help="dealer group id for a group-wide key")] = None,
) -> None:
    """Create an API key for another system; the key is printed once and only its hash is kept."""
    group_id, store_id = _store_and_group(store, group)
    engine = make_engine(_settings().database_url)
    with engine.begin() as conn:
        key = service.create_api_key(conn, name=name, group_id=group_id, store_id=store_id)
    engine.dispose()
    console.print(f"key {key.id} for {name}; send it as X-API-Key (shown once):")
    print(key.key)


@keys_app.command("revoke")
def keys_revoke(key_id: int) -> None:
    """Revoke a key at once."""
    engine = make_engine(_settings().database_url)
    with engine.begin() as conn:
        service.revoke_api_key(conn, key_id=key_id)
    engine.dispose()
    console.print(f"key {key_id} revoked")
