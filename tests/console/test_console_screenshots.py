"""Screenshots of every console page (1280×800 PNG) on a store with bookings and work orders in
flight. `PITCALL_SCREENSHOTS=docs/screenshots pytest tests/console/test_console_screenshots.py`
refreshes the committed ones; otherwise they go to the test's temporary folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.sync_api import APIRequestContext, Page, expect

from tests.console.conftest import Console, log_in, wait_ready
from tests.console.fleet import MANAGER, PASSWORD


def _ok(response: Any) -> Any:
    assert response.ok, f"{response.url}: {response.status} {response.text()}"
    return response.json()


def _book(request: APIRequestContext, console: Console, alert: dict[str, Any]) -> dict[str, Any]:
    slot = _ok(request.get(console.url(f"/api/v1/alerts/{alert['id']}/slots")))["slots"][0]
    body = {"vehicle_id": alert["vehicle_id"], "op_code": alert["operation"], "alert_id": alert["id"]}
    body |= {key: slot[key] for key in ("technician_id", "bay_id", "starts_at")}
    booking: dict[str, Any] = _ok(request.post(console.url("/api/v1/bookings"), data=body))
    return booking


def _a_busy_week(request: APIRequestContext, console: Console) -> tuple[dict[str, Any], str, int]:
    """Book, check in and diagnose one alert, book another, propose a third, acknowledge a fourth."""
    queue = _ok(request.get(console.url("/api/v1/alerts?limit=10")))["items"]
    first = _book(request, console, queue[0])
    order = _ok(request.post(console.url(f"/api/v1/bookings/{first['id']}/work-order")))
    path = console.url(f"/api/v1/work-orders/{order['id']}")
    _ok(request.patch(path, data={"findings": "3 缸点火线圈次级电阻无穷大", "labour_hours": 1.5}))
    _ok(request.post(f"{path}/transitions", data={"to": "diagnosis"}))
    _book(request, console, queue[1])
    _ok(request.post(console.url(f"/api/v1/alerts/{queue[2]['id']}/proposal")))
    _ok(request.post(console.url(f"/api/v1/alerts/{queue[3]['id']}/acknowledge"), data={}))
    return queue[4], first["starts_at"][:10], int(order["id"])


def test_screenshots_of_every_page(page: Page, console: Console, tmp_path: Path) -> None:
    folder = Path(os.environ.get("PITCALL_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.goto(console.url("/console/login"))
    page.fill("input[name=username]", MANAGER)
    page.fill("input[name=password]", PASSWORD)
    page.screenshot(path=folder / "login.png")
    log_in(page, console, MANAGER)
    open_alert, day, order_id = _a_busy_week(page.request, console)

    shots = {
        "alerts": "/console/alerts",
        "alert": f"/console/alerts/{open_alert['id']}",
        "vehicle": f"/console/vehicles/{open_alert['vehicle_id']}",
        "calendar": f"/console/calendar?view=day&date={day}",
        "work_orders": f"/console/work-orders?open={order_id}",
        "dashboard": "/console/dashboard",
    }
    for name, path in shots.items():
        page.goto(console.url(path))
        wait_ready(page)
        if name == "alert":
            page.click("#find-slots")
            expect(page.locator("ul.slots li").first).to_be_visible()
        page.wait_for_timeout(300)  # let uPlot's resize settle
        page.screenshot(path=folder / f"{name}.png", full_page=name in {"alert", "vehicle"})
    expect(page.locator('[data-figure="booked"] .value')).to_have_text("2")
    for name in ["login", *shots]:
        assert (folder / f"{name}.png").stat().st_size > 10_000, f"{name}.png looks blank"
