"""Live stream of a store's alert events (server-sent events), read from the outbox.

Each event's id is its outbox id: a client that reconnects with `Last-Event-ID` gets what it missed.
A new connection starts at the newest event. The stream polls the outbox (settings.event_poll_s).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy import Engine, func, select

from api.deps import Anyone, Scope
from api.errors import ERROR_RESPONSES
from api.tenancy import StoreScope
from store.service_tables import outbox

router = APIRouter(tags=["events"], responses=ERROR_RESPONSES)
ALERT_EVENTS = ("alert.raised", "alert.acknowledged", "alert.dismissed", "alert.booked", "alert.resolved")


def _newest(engine: Engine, scope: StoreScope) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.coalesce(func.max(outbox.c.id), 0)).where(scope.where(outbox))) or 0)


def _after(engine: Engine, scope: StoreScope, last_id: int, limit: int = 200) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(outbox)
                .where(scope.where(outbox), outbox.c.id > last_id, outbox.c.event_type.in_(ALERT_EVENTS))
                .order_by(outbox.c.id)
                .limit(limit)
            )
        )


@router.get("/events/alerts", response_class=EventSourceResponse)
async def alert_events(
    request: Request,
    _: Anyone,
    scope: Scope,
    last_event_id: Annotated[str | None, Header()] = None,
    max_seconds: Annotated[float | None, Query(gt=0, description="close the stream after this long")] = None,
) -> AsyncIterator[ServerSentEvent]:
    """New and changed alerts of the caller's stores, as they are written (event = the outbox type)."""
    engine: Engine = request.app.state.engine
    poll_s: float = request.app.state.settings.event_poll_s
    last = (
        int(last_event_id)
        if last_event_id and last_event_id.isdigit()
        else await run_in_threadpool(_newest, engine, scope)
    )
    loop = asyncio.get_running_loop()
    deadline = None if max_seconds is None else loop.time() + max_seconds
    yield ServerSentEvent(event="ready", data={"last_event_id": last}, retry=3000)
    while deadline is None or loop.time() < deadline:
        for row in await run_in_threadpool(_after, engine, scope, last):
            last = row.id
            data = {"alert_id": row.subject_id, "store_id": row.store_id, **row.payload}
            yield ServerSentEvent(id=str(row.id), event=row.event_type, data=data)
        if await request.is_disconnected():
            return
        await asyncio.sleep(poll_s)
