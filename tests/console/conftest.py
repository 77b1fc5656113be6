"""Fixtures of the console's browser tests: the console's store built once per session and copied per
test, the real app under uvicorn on a loopback port, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import create_engine, text

from api.app import create_app
from api.settings import ApiSettings
from pitcall.local_services import PostgresCluster, free_port
from store.db import sqlalchemy_url
from tests.console.fleet import PASSWORD, ConsoleStore, build_console_store
from tests.helpers import copy_database

CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 10_000  # every wait in the browser is bounded
_copies = itertools.count()


@dataclass(frozen=True)
class Loaded:
    template: str
    pg: PostgresCluster
    store: ConsoleStore

    def copy(self) -> str:
        name = f"console_{next(_copies)}"
        copy_database(self.pg.url(), name, self.template)
        return self.pg.url(name)

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        engine = create_engine(sqlalchemy_url(self.pg.url()), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


@dataclass(frozen=True)
class Console:
    base: str
    db_url: str
    store: ConsoleStore

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


@pytest.fixture(scope="session")
def loaded(pg: PostgresCluster, template_db: str) -> Iterator[Loaded]:
    engine = create_engine(sqlalchemy_url(pg.url()), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE console_fleet TEMPLATE {template_db}"))
    store = build_console_store(pg.url("console_fleet"))
    yield Loaded("console_fleet", pg, store)
    with engine.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS console_fleet WITH (FORCE)"))
    engine.dispose()


@pytest.fixture
def console(loaded: Loaded) -> Iterator[Console]:
    """The real app (API and console) under uvicorn on a free loopback port, on a copy of the store."""
    db_url = loaded.copy()
    port = free_port()
    app = create_app(ApiSettings(database_url=db_url, environment="development", event_poll_s=0.2))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield Console(f"http://127.0.0.1:{port}", db_url, loaded.store)
    server.should_exit = True
    thread.join(timeout=10)
    loaded.drop(db_url)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    """A fresh browser context (no cookies, no stored language); closed before the server stops."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="zh-CN", timezone_id="America/Los_Angeles"
    )
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    errors: list[str] = []
    elsewhere: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on(
        "console", lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None
    )
    tab.on("request", lambda r: None if r.url.startswith((console.base, "data:")) else elsewhere.append(r.url))
    yield tab
    context.close()
    assert not errors, f"script errors in the page: {errors}"
    assert not elsewhere, f"the console fetched from another host: {elsewhere}"


def log_in(page: Page, console: Console, username: str, then: str = "/console/alerts") -> None:
    """Log in through the form and land on the alert queue."""
    page.goto(console.url(f"/console/login?next={then}"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{then}")
    wait_ready(page)


def wait_ready(page: Page) -> None:
    """Wait until the page's script has rendered its data (body[data-ready])."""
    page.wait_for_selector("body[data-ready]", state="attached")
