"""The console's pages under `/console`: HTML shells whose scripts read everything from `/api/v1`.

A page route only checks the session cookie (the same `current_principal` the API uses) and redirects
to the log-in page without one; data, roles and tenancy are the API's (another store's alert page
renders the shell and its script shows the API's 404).
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Cookie, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.db import Db
from api.deps import SESSION_COOKIE, Settings, current_principal
from api.errors import Unauthorized
from api.tenancy import Principal

HERE = FilePath(__file__).parent
STATIC_PATH = "/console/static"
templates = Jinja2Templates(directory=HERE / "templates")
# Scripts and styles only from this server (inline style attributes: the calendar places blocks with them).
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {"Cache-Control": "no-store", "Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff"}
router = APIRouter(prefix="/console", include_in_schema=False)
public_router = APIRouter(include_in_schema=False)  # pages for customers: no log-in
Session = Annotated[str | None, Cookie(alias=SESSION_COOKIE)]


def static_files() -> StaticFiles:
    """The console's scripts, styles and vendored uPlot (mounted at `STATIC_PATH`; nothing from a CDN)."""
    return StaticFiles(directory=HERE / "static")


def _session_principal(db: Db, settings: Settings, session: Session = None) -> Principal | None:
    if not session:
        return None
    try:
        return current_principal(db, settings, None, None, session)
    except Unauthorized:
        return None


def _page(request: Request, db: Db, settings: Settings, session: str | None, page: str, **ids: int) -> Response:
    if _session_principal(db, settings, session) is None:
        return RedirectResponse(f"/console/login?next={request.url.path}", status_code=303)
    context = {"page": page, "static": STATIC_PATH, "ids": ids}
    return templates.TemplateResponse(request, f"{page}.html", context, headers=HEADERS)


@router.get("", response_class=RedirectResponse)
def home() -> RedirectResponse:
    """Open the alert queue."""
    return RedirectResponse("/console/alerts", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login(request: Request) -> Response:
    """Show the log-in form (it posts to `/api/v1/auth/session`)."""
    context = {"page": "login", "static": STATIC_PATH, "ids": {}}
    return templates.TemplateResponse(request, "login.html", context, headers=HEADERS)


@router.get("/alerts", response_class=HTMLResponse)
def alert_queue(request: Request, db: Db, settings: Settings, session: Session = None) -> Response:
    """Show the store's open alerts, most urgent first, updated live."""
    return _page(request, db, settings, session, "alerts")


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_detail(alert_id: int, request: Request, db: Db, settings: Settings, session: Session = None) -> Response:
    """Show one alert's evidence, customer and actions."""
    return _page(request, db, settings, session, "alert", alert_id=alert_id)


@router.get("/vehicles/{vehicle_id}", response_class=HTMLResponse)
def vehicle_health(vehicle_id: int, request: Request, db: Db, settings: Settings, session: Session = None) -> Response:
    """Show one vehicle's signals, DTCs, device, alerts and work orders."""
    return _page(request, db, settings, session, "vehicle", vehicle_id=vehicle_id)


@router.get("/calendar", response_class=HTMLResponse)
def bookings_calendar(request: Request, db: Db, settings: Settings, session: Session = None) -> Response:
    """Show the bays and technicians by day or week with their bookings."""
    return _page(request, db, settings, session, "calendar")


@router.get("/work-orders", response_class=HTMLResponse)
def work_order_board(request: Request, db: Db, settings: Settings, session: Session = None) -> Response:
    """Show the work orders by state and move them along."""
    return _page(request, db, settings, session, "work_orders")


@router.get("/dashboard", response_class=HTMLResponse)
def store_dashboard(request: Request, db: Db, settings: Settings, session: Session = None) -> Response:
    """Show the store's week: alerts, bookings, lead time, utilisation, survey score."""
    return _page(request, db, settings, session, "dashboard")


@public_router.get("/survey/{token}", response_class=HTMLResponse)
def customer_survey(request: Request, token: Annotated[str, Path(min_length=16, max_length=64)]) -> Response:
    """Show the customer's satisfaction survey (the link in the message); it answers through the public API."""
    context = {"page": "survey", "static": STATIC_PATH, "token": token, "language": "zh"}
    return templates.TemplateResponse(request, "survey.html", context, headers=HEADERS)
