"""Every page renders its data in a store of 2,000 cars, a month of minute data draws and zooms, the
vehicle chart zooms into 1-minute data, the tablet layout. Timings are printed (run with -s) and quoted
in docs/console.md and docs/benchmarks.md; they are figures, not pass/fail criteria (a loaded CI machine
is not a benchmark)."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from predict.catalog import FailureMode
from store.db import make_engine
from store.tables import alerts, vehicles
from tests.api_world import raise_test_alert
from tests.console.conftest import Console, log_in, wait_ready
from tests.console.fleet import MANAGER

EXTRA_ALERTS = 300  # a 2,000-car store's live queue: the queue pages by 50


def _fill_queue(console: Console) -> tuple[int, int]:
    """Raise alerts on the padding cars; return an alert with evidence and its vehicle."""
    engine = make_engine(console.db_url)
    modes = list(FailureMode)
    with engine.begin() as conn:
        padding = conn.scalars(
            select(vehicles.c.id).where(vehicles.c.store_id == console.store.store_id, vehicles.c.customer_id.is_(None))
        ).all()
        for i, vehicle_id in enumerate(padding[:EXTRA_ALERTS]):
            raise_test_alert(conn, store_id=console.store.store_id, vehicle_id=vehicle_id, mode=modes[i % len(modes)])
        simulated = conn.execute(
            select(alerts.c.id, alerts.c.vehicle_id).where(alerts.c.model_version != "test").order_by(alerts.c.id)
        ).first()
    engine.dispose()
    assert simulated is not None
    return simulated.id, simulated.vehicle_id


def _simulated_vehicle(console: Console) -> int:
    engine = make_engine(console.db_url)
    with engine.connect() as conn:
        vehicle_id = conn.scalar(select(alerts.c.vehicle_id).order_by(alerts.c.id).limit(1))
    engine.dispose()
    assert vehicle_id is not None
    return int(vehicle_id)


def _timing(page: Page, path: str, console: Console) -> dict[str, float]:
    page.goto(console.url(path))
    wait_ready(page)
    figures: dict[str, float] = page.evaluate(
        """() => {
          const nav = performance.getEntriesByType("navigation")[0];
          return {ready: performance.getEntriesByName("console:ready")[0].startTime,
                  dom: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, response: nav.responseEnd};
        }"""
    )
    return figures


def test_every_page_renders_its_data_in_a_store_of_2000_cars(page: Page, console: Console) -> None:
    alert_id, vehicle_id = _fill_queue(console)
    log_in(page, console, MANAGER)
    expect(page.locator("#queue tbody tr")).to_have_count(50)
    expect(page.locator("#more")).to_be_visible()
    paths = ["/console/alerts", f"/console/alerts/{alert_id}", f"/console/vehicles/{vehicle_id}",
             "/console/calendar", "/console/work-orders", "/console/dashboard"]  # fmt: skip
    for path in paths:  # warm the server's and the browser's caches once, as a working user would have
        _timing(page, path, console)
    medians: dict[str, float] = {}
    for path in paths:
        runs = sorted((_timing(page, path, console) for _ in range(3)), key=lambda f: f["ready"])
        median, slowest = runs[1], runs[-1]
        print(f"page {path}: data rendered {median['ready']:.0f} ms median, {slowest['ready']:.0f} ms slowest of 3; "
              f"load event {median['load']:.0f} ms median")  # fmt: skip
        medians[path] = median["ready"]
    assert set(medians) == set(paths) and all(ms > 0 for ms in medians.values())


def test_a_month_of_minute_data_draws_and_zooms(page: Page, console: Console) -> None:
    log_in(page, console, MANAGER)
    page.goto(console.url(f"/console/vehicles/{_simulated_vehicle(console)}"))
    wait_ready(page)
    figures = page.evaluate(
        """async () => {
          const { lineChart } = await import("/console/static/charts.js");
          const n = 43200, start = Date.now() / 1000 - 30 * 86400;
          const x = new Array(n), avg = new Array(n), min = new Array(n), max = new Array(n);
          for (let i = 0; i < n; i++) {
            x[i] = start + i * 60;
            avg[i] = 85 + 5 * Math.sin(i / 300) + Math.random();
            min[i] = avg[i] - 3; max[i] = avg[i] + 3;
          }
          const el = document.createElement("div");
          document.getElementById("main").append(el);
          const drawn = () => new Promise((resolve) => setTimeout(resolve, 0));  // uPlot draws in a microtask
          let t0 = performance.now();
          const chart = lineChart(el, { x, height: 320, series: [
            { label: "min", values: min }, { label: "avg", values: avg }, { label: "max", values: max }] });
          await drawn();
          const draw = performance.now() - t0;
          t0 = performance.now();
          chart.setScale("x", { min: x[n - 1440 * 7], max: x[n - 1] });
          await drawn();
          const zoom = performance.now() - t0;
          t0 = performance.now();
          for (let i = 0; i < 20; i++) { chart.setCursor({ left: 30 * i, top: 100 }); await drawn(); }
          const hover = (performance.now() - t0) / 20;
          return { draw, zoom, hover, points: chart.data[0].length };
        }"""
    )
    print(f"43,200 points x 3 series: draw {figures['draw']:.0f} ms, zoom {figures['zoom']:.0f} ms, "
          f"cursor {figures['hover']:.1f} ms")  # fmt: skip
    assert figures["points"] == 43_200


def test_dragging_into_a_week_switches_the_vehicle_chart_to_minute_data(page: Page, console: Console) -> None:
    log_in(page, console, MANAGER)
    page.goto(console.url(f"/console/vehicles/{_simulated_vehicle(console)}"))
    wait_ready(page)
    chart = page.locator("#series-chart")
    expect(chart).to_have_attribute("data-bucket", "1h")
    assert int(chart.get_attribute("data-points") or 0) > 24
    box = page.locator("#series-chart .u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    start_x = box["x"] + box["width"] * 0.55
    page.mouse.move(start_x, y)
    page.mouse.down()
    page.mouse.move(start_x + box["width"] * 0.15, y, steps=5)  # 15% of 30 days = 4.5 days
    page.mouse.up()
    expect(chart).to_have_attribute("data-bucket", "1m")
    assert int(chart.get_attribute("data-points") or 0) > 100
    page.click("#reset-zoom")
    expect(chart).to_have_attribute("data-bucket", "1h")


def test_every_page_fits_a_tablet_screen(page: Page, console: Console) -> None:
    page.set_viewport_size({"width": 1024, "height": 768})
    log_in(page, console, MANAGER)
    engine = make_engine(console.db_url)
    with engine.connect() as conn:
        alert = conn.execute(select(alerts.c.id, alerts.c.vehicle_id).order_by(alerts.c.id)).first()
    engine.dispose()
    assert alert is not None
    for path in ("/console/alerts", f"/console/alerts/{alert.id}", f"/console/vehicles/{alert.vehicle_id}",
                 "/console/calendar", "/console/work-orders", "/console/dashboard"):  # fmt: skip
        page.goto(console.url(path))
        wait_ready(page)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 1024, f"{path} scrolls sideways on a 1024-pixel tablet ({width} px)"
