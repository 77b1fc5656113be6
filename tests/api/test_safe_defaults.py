"""Safe by default (issue 18, item 6, API part): no start with published secrets outside development or
beyond loopback, request bodies refused over a limit before they are read (on the real server), the
CLI holding passwords to the API's rule, and /docs, /openapi.json and /metrics private in production."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner

from api.app import create_app
from api.settings import DEV_JWT_SECRET, ApiSettings
from api.tenancy import Role
from pitcall.cli import app as cli
from pitcall.local_services import free_port
from tests.api.server import running_api
from tests.api_world import PASSWORD, World
from tests.helpers import scalar

SECRETS = {"jwt_secret": "j" * 40, "webhook_key": "w" * 40}
MiB = 1024 * 1024


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PITCALL_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("clean_env")
def test_the_default_is_production_and_refuses_the_published_secrets() -> None:
    with pytest.raises(ValidationError, match="PITCALL_API_JWT_SECRET"):
        ApiSettings()
    assert ApiSettings(**SECRETS).environment == "production"  # type: ignore[arg-type]
    assert ApiSettings(environment="development").jwt_secret.get_secret_value() == DEV_JWT_SECRET


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "api.example.com"])
def test_the_development_secret_never_listens_beyond_loopback(host: str) -> None:
    with pytest.raises(ValidationError, match="development JWT secret is public"):
        ApiSettings(environment="development", host=host)
    assert ApiSettings(environment="development", host=host, jwt_secret="k" * 40).host == host
    for loopback in ("127.0.0.1", "::1", "localhost"):
        assert ApiSettings(environment="development", host=loopback).host == loopback


def _start_refused(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PITCALL_")} | env
    try:
        return subprocess.run(
            [sys.executable, "-m", "pitcall", "api", *args], env=clean, capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired as exc:  # it started serving: the very thing refused here
        raise AssertionError(f"pitcall api {' '.join(args)} started instead of refusing") from exc


def test_pitcall_api_refuses_to_start_unsafe() -> None:
    """Issue 18: the API defaulted to development with a published JWT secret (a forged token worked)."""
    port = str(free_port())
    bare = _start_refused(["--port", port], {})
    assert bare.returncode == 2 and "PITCALL_API_JWT_SECRET" in bare.stderr, bare.stderr
    wide = _start_refused(["--host", "0.0.0.0", "--port", port], {"PITCALL_API_ENVIRONMENT": "development"})
    assert wide.returncode == 2 and "development JWT secret is public" in wide.stderr, wide.stderr


def test_a_token_forged_with_the_published_secret_is_refused_in_production(world: World, db_url: str) -> None:
    forged = jwt.encode({"sub": "1", "typ": "access", "exp": int(time.time()) + 600}, DEV_JWT_SECRET, "HS256")
    production = ApiSettings(database_url=db_url, **SECRETS)  # type: ignore[arg-type]
    with TestClient(create_app(production)) as client:
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401, response.text


def _send_until_answered(port: int, head: bytes, chunks: int, chunk: bytes) -> tuple[bytes, int]:
    """Send `head`, then up to `chunks` × `chunk` until the server answers; return its answer and the
    body bytes sent by then."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head)
        for _ in range(chunks):
            if select.select([conn], [], [], 0)[0]:
                break
            try:
                conn.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        conn.settimeout(10)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith((b"}", b"Large")):
                part = conn.recv(65536)
                if not part:
                    break
                answer += part
                conn.settimeout(2)
        except (TimeoutError, ConnectionResetError):
            pass
    return answer, sent


def test_a_100_mb_body_is_refused_before_it_is_read(world: World, db_url: str, tmp_path: Path) -> None:
    """Issue 18: an unauthenticated 100 MB JSON body to /surveys/x was read and parsed."""
    head = (
        b"POST /api/v1/surveys/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 104857600\r\n\r\n"
    )
    with running_api(db_url, log=tmp_path / "api.log") as api:
        started = time.monotonic()
        answer, sent = _send_until_answered(api.port, head, chunks=1600, chunk=b" " * 65536)
        declared_s = time.monotonic() - started
        chunked_head = head.replace(b"Content-Length: 104857600", b"Transfer-Encoding: chunked")
        chunk = b"10000\r\n" + b" " * 65536 + b"\r\n"
        chunked_answer, chunked_sent = _send_until_answered(api.port, chunked_head, chunks=1600, chunk=chunk)
        assert api.process is not None and api.process.poll() is None
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]  # Starlette's own plain-text 413 for a declared size
    assert declared_s < 5
    assert sent < 8 * MiB, f"{sent / MiB:.0f} MiB sent before the 413: the server read the body"
    assert chunked_answer.startswith(b"HTTP/1.1 413"), chunked_answer[:300]
    assert b'"too_large"' in chunked_answer  # the common error body
    assert chunked_sent < 8 * MiB, f"{chunked_sent / MiB:.0f} MiB sent before the 413"


def test_a_body_under_the_limit_still_works(world: World) -> None:
    response = world.call("POST", "/api/v1/surveys/x", json={"score": 5, "comment": "好" * 1000})
    assert response.status_code in (404, 422), response.text  # judged on its content, not its size


def test_the_cli_holds_passwords_to_the_api_rule(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18: `pitcall users add --password a` was accepted."""
    monkeypatch.setenv("PITCALL_API_DATABASE_URL", db_url)
    runner = CliRunner()
    short = runner.invoke(cli, ["users", "add", "li.admin", "--role", "group_admin", "--group", "1", "--password", "a"])
    assert short.exit_code == 1 and "password" in short.output and "at least 10" in short.output, short.output
    bad_name = runner.invoke(cli, ["users", "add", "li admin", "--role", "group_admin", "--group", "1",
                                   "--password", PASSWORD])  # fmt: skip
    assert bad_name.exit_code == 1 and "username" in bad_name.output, bad_name.output
    assert scalar(db_url, "SELECT count(*) FROM users") == 0


def _production_client(db_url: str, **settings: str) -> TestClient:
    return TestClient(create_app(ApiSettings(database_url=db_url, **SECRETS, **settings)))  # type: ignore[arg-type]


def test_docs_and_metrics_are_private_in_production(world: World, db_url: str) -> None:
    pages = ("/docs", "/redoc", "/openapi.json")
    with _production_client(db_url) as client:
        assert {page: client.get(page).status_code for page in pages} == dict.fromkeys(pages, 401)
        login = {"username": world.stores["A"].users[Role.TECHNICIAN], "password": PASSWORD}
        token = client.post("/api/v1/auth/token", data=login).json()["access_token"]
        person = {"Authorization": f"Bearer {token}"}
        assert {page: client.get(page, headers=person).status_code for page in pages} == dict.fromkeys(pages, 200)
        assert client.get("/metrics").status_code == 404  # private and no token set: off
        assert client.get("/metrics", headers=person).status_code == 404
    with _production_client(db_url, metrics_token="m" * 40) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 40}).status_code == 401
        scraped = client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 40})
        assert scraped.status_code == 200 and "pitcall_api_requests_total" in scraped.text
    with _production_client(db_url, docs="off", metrics="public") as client:
        assert client.get("/openapi.json").status_code == 404 and client.get("/metrics").status_code == 200


def test_docs_and_metrics_are_public_in_development(world: World) -> None:
    for page in ("/docs", "/redoc", "/openapi.json", "/metrics"):
        assert world.app_client.get(page).status_code == 200, page
