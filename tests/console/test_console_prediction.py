"""The prediction status in a real Chromium: a mode held back for low live precision shows on the dashboard and
above the queue, and a watch-list alert is taken into the queue from its page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import insert, select

from predict import alerts as lifecycle
from predict.catalog import CATALOG, FailureMode
from predict.dtc_kb import Severity
from store.db import make_engine
from store.tables import alerts, prediction_calibration, vehicles
from tests.console.conftest import Console, log_in, wait_ready
from tests.console.fleet import MANAGER


def _hold_misfire(console: Console) -> tuple[int, str]:
    """Eleven closed misfire alerts of the store's model, nine refuted; a catalyst alert on the watch list."""
    now = datetime.now(UTC)
    operation = CATALOG[FailureMode.MISFIRE].operation
    engine = make_engine(console.db_url)
    with engine.begin() as conn:
        version = conn.scalar(select(prediction_calibration.c.model_version).limit(1))
        vehicle_id = conn.scalar(select(vehicles.c.id).where(vehicles.c.store_id == console.store.store_id).limit(1))
        assert version is not None and vehicle_id is not None
        conn.execute(insert(alerts), [
            {"store_id": console.store.store_id, "vehicle_id": vehicle_id, "mode": "misfire", "state": "resolved",
             "severity": "warning", "confidence": 0.9, "observed_at": now - timedelta(days=60 - n),
             "first_observed_at": now - timedelta(days=60 - n), "evidence": {}, "operation": operation.op_code,
             "parts": list(operation.parts), "model_version": version, "closed_at": now - timedelta(days=59 - n),
             "outcome": "confirmed" if n < 2 else "not_found"}
            for n in range(11)
        ])  # fmt: skip
        catalyst = CATALOG[FailureMode.CATALYST].operation
        watched = lifecycle.raise_alert(conn, lifecycle.AlertDraft(
            vehicle_id=vehicle_id, store_id=console.store.store_id, mode=FailureMode.CATALYST,
            severity=Severity.WARNING, confidence=0.4, observed_at=now - timedelta(hours=3), days_to_failure=30.0,
            evidence={}, operation=catalyst.op_code, parts=catalyst.parts, model_version=version, held=True,
        )).alert_id  # fmt: skip
    engine.dispose()
    assert watched is not None
    return watched, version


def test_a_held_mode_shows_on_the_dashboard_and_above_the_queue(page: Page, console: Console) -> None:
    _, version = _hold_misfire(console)
    log_in(page, console, MANAGER, then="/console/dashboard")
    panel = page.locator('[data-figure="prediction"]')
    expect(panel).to_contain_text(version)
    expect(panel.locator('tr[data-mode="misfire"][data-held="true"]')).to_contain_text("暂停入队")
    expect(panel.locator('tr[data-mode="misfire"]')).to_contain_text("18% (2/11)")
    expect(panel.locator('tr[data-mode="battery"][data-held="false"]')).to_contain_text("正常")
    page.goto(console.url("/console/alerts"))
    wait_ready(page)
    expect(page.locator('#held [data-held-mode="misfire"]')).to_contain_text("失火")
    expect(page.locator("#held [data-held-mode]")).to_have_count(1)


def test_a_watch_list_alert_is_taken_into_the_queue(page: Page, console: Console) -> None:
    watched, _ = _hold_misfire(console)
    log_in(page, console, MANAGER)
    expect(page.locator(f'#queue tr[data-alert-id="{watched}"]')).to_have_count(0)
    page.goto(console.url("/console/alerts?state=watch"))
    wait_ready(page)
    expect(page.locator(f'#queue tr[data-alert-id="{watched}"]')).to_have_count(1)
    page.goto(console.url(f"/console/alerts/{watched}"))
    wait_ready(page)
    page.click("#to-queue")
    expect(page.locator("#to-queue")).to_have_count(0)
    expect(page.locator("#acknowledge")).to_be_visible()  # an open alert now, in the queue
    page.goto(console.url("/console/alerts"))
    wait_ready(page)
    expect(page.locator(f'#queue tr[data-alert-id="{watched}"]')).to_have_count(1)
