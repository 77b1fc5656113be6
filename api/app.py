"""The FastAPI application: `/api/v1/...`, the console, `/healthz`, `/readyz`, `/metrics`, `/docs`.

`/metrics` and the docs (`/docs`, `/redoc`, `/openapi.json`) are public, private or off by settings
(docs/api.md): private docs need a logged-in person (bearer token or the console's session), private
metrics the metrics token as a bearer token.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api import errors
from api.alerts.router import router as alerts_router
from api.auth.hashing import PasswordHashing
from api.auth.router import router as auth_router
from api.bookings.router import router as bookings_router
from api.capacity.router import router as capacity_router
from api.console.router import STATIC_PATH, static_files
from api.console.router import public_router as customer_pages_router
from api.console.router import router as console_router
from api.customers.router import router as customers_router
from api.dashboard.router import router as dashboard_router
from api.db import make_engine
from api.deps import SESSION_COOKIE, current_principal
from api.errors import NotFound, Unauthorized
from api.events.router import router as events_router
from api.notifications.router import router as notifications_router
from api.prediction.router import router as prediction_router
from api.settings import ApiSettings
from api.surveys.router import router as surveys_router
from api.vehicles.router import router as vehicles_router
from api.work_orders.router import router as work_orders_router

API_PREFIX = "/api/v1"
ROUTERS: tuple[APIRouter, ...] = (
    auth_router,
    alerts_router,
    events_router,
    bookings_router,
    work_orders_router,
    surveys_router,
    customers_router,
    vehicles_router,
    capacity_router,
    notifications_router,
    dashboard_router,
    prediction_router,
)


class Metrics:
    """Request counters and latency per route template (not per raw path: ids would explode them)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pitcall_api_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "pitcall_api_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.password_hashes = Counter(
            "pitcall_api_password_hashes_total", "argon2 hashes and checks run", registry=self.registry
        )
        self.login_throttled = Counter(
            "pitcall_api_login_throttled_total",
            "log-ins refused with 429 before any hashing, by what was locked",
            ["locked"],
            registry=self.registry,
        )


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the app; the engine is created in the lifespan (nothing connects at import)."""
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = make_engine(settings.database_url, pool_size=settings.pool_size)
        try:
            yield
        finally:
            app.state.engine.dispose()

    app = FastAPI(
        title="pitcall API",
        version="1",
        summary="Predictive maintenance for 4S dealerships: alerts, bookings, work orders, telemetry",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        max_body_size=settings.max_body_size,  # 413 at the first read past it (Content-Length or streamed)
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.hashing = PasswordHashing(
        concurrency=settings.hash_concurrency, wait_s=settings.hash_wait_s, counter=app.state.metrics.password_hashes
    )
    app.state.login_policy = settings.login_policy()
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(console_router)
    app.include_router(customer_pages_router)
    app.mount(STATIC_PATH, static_files(), name="console-static")
    _add_operations_routes(app)
    _add_docs_routes(app, settings)
    return app


def _docs_reader(request: Request) -> None:
    """Let a logged-in person (token, key or console session) read private docs; 404 when they are off."""
    settings: ApiSettings = request.app.state.settings
    if settings.docs_exposure == "off":
        raise NotFound("the API docs are off on this server")
    if settings.docs_exposure == "private":
        with request.app.state.engine.connect() as conn:
            current_principal(
                conn,
                settings,
                bearer=_bearer(request),
                api_key=request.headers.get("X-API-Key"),
                session=request.cookies.get(SESSION_COOKIE),
            )


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _add_docs_routes(app: FastAPI, settings: ApiSettings) -> None:
    reader = [Depends(_docs_reader)]

    @app.get("/openapi.json", include_in_schema=False, dependencies=reader)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=reader)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - Swagger UI")

    @app.get("/redoc", include_in_schema=False, dependencies=reader)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} - ReDoc")


def _metrics_reader(request: Request) -> None:
    """Let anyone read public metrics, the metrics token's bearer private ones; 404 when off or no token."""
    settings: ApiSettings = request.app.state.settings
    exposure = settings.metrics_exposure
    if exposure == "public":
        return
    if exposure == "off" or settings.metrics_token is None:
        raise NotFound("metrics are off on this server (set PITCALL_API_METRICS_TOKEN to read them)")
    given = _bearer(request) or ""
    if not hmac.compare_digest(given.encode(), settings.metrics_token.get_secret_value().encode()):
        raise Unauthorized("metrics need the metrics token as a bearer token")


def _add_operations_routes(app: FastAPI) -> None:
    metrics: Metrics = app.state.metrics

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        if request.url.path.startswith(API_PREFIX) and not template.startswith(API_PREFIX):
            template = API_PREFIX + template  # routes of included routers carry their own path only
        metrics.latency.labels(request.method, template).observe(time.perf_counter() - started)
        metrics.requests.labels(request.method, template, str(response.status_code)).inc()
        return response

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        """The database answers and is migrated."""
        try:
            with app.state.engine.connect() as conn:
                version = conn.scalar(text("SELECT version_num FROM alembic_version"))
        except SQLAlchemyError as exc:
            return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ready", "schema": version})

    @app.get("/metrics", include_in_schema=False)
    def prometheus(_: Annotated[None, Depends(_metrics_reader)]) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
