"""The API's database access: one engine per process, one transaction per request (the unit of work).

Routes receive a `Connection` inside a transaction that commits when the route returns and rolls back
when it raises; the commit happens before the response is sent (dependency scope "function"), so a
client never sees success for a change that was not stored. Services never commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine, create_engine

from store.db import sqlalchemy_url


def make_engine(database_url: str, *, pool_size: int) -> Engine:
    """Create the API's engine (nothing connects until first use)."""
    return create_engine(sqlalchemy_url(database_url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def unit_of_work(request: Request) -> Iterator[Connection]:
    """Yield a connection in a transaction; commit when the route returns, roll back if it raises."""
    with engine_of(request).begin() as conn:
        yield conn


Db = Annotated[Connection, Depends(unit_of_work, scope="function")]
