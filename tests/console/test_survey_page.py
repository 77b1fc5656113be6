"""The customer opens the survey link from the message in a real browser, answers once, and the store
sees the score on the work order; a second visit says it was answered."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import Page, expect
from sqlalchemy import insert, select

from api.surveys.service import send_survey
from store.db import make_engine
from store.service_tables import surveys, work_orders
from store.tables import vehicles
from tests.console.conftest import Console


def test_customer_answers_the_survey_page(page: Page, console: Console) -> None:
    engine = make_engine(console.db_url)
    with engine.begin() as conn:
        vehicle_id = (
            conn.execute(select(vehicles.c.id).where(vehicles.c.store_id == console.store.store_id)).scalars().first()
        )
        assert vehicle_id is not None
        order = conn.scalar(
            insert(work_orders)
            .values(store_id=console.store.store_id, vehicle_id=vehicle_id, state="closed", created_by="test",
                    op_code="BAT-TEST-REPLACE")
            .returning(work_orders.c.id)
        )  # fmt: skip
        link = send_survey(conn, work_order_id=order, store_id=console.store.store_id, vehicle_id=vehicle_id,
                           at=datetime.now(UTC))  # fmt: skip
    page.goto(console.url(link))
    page.wait_for_selector("body[data-ready]", state="attached")
    expect(page.locator("#survey-store")).not_to_be_empty()
    page.check("input[name=score][value='9']")
    page.fill("textarea[name=comment]", "提醒很及时")
    page.click("#survey-submit")
    expect(page.locator("#survey-message")).to_be_visible()
    with engine.connect() as conn:
        row = conn.execute(select(surveys).where(surveys.c.work_order_id == order)).one()
    assert (row.score, row.comment) == (9, "提醒很及时")
    page.goto(console.url(link))
    page.wait_for_selector("body[data-ready]", state="attached")
    expect(page.locator("#survey-message")).to_be_visible()
    expect(page.locator("#survey")).to_be_hidden()
    engine.dispose()
