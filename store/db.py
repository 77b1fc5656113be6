"""Database URLs and connections for the synchronous tools (migrations, provisioning, CLI)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/pitcall"


def sqlalchemy_url(database_url: str) -> str:
    """Return the SQLAlchemy (psycopg 3) form of a postgresql:// URL."""
    for scheme in ("postgresql://", "postgres://"):
        if database_url.startswith(scheme):
            return "postgresql+psycopg://" + database_url[len(scheme) :]
    return database_url


def asyncpg_url(database_url: str) -> str:
    """Return the asyncpg form of a database URL (no SQLAlchemy driver suffix)."""
    return database_url.replace("postgresql+psycopg://", "postgresql://").replace(
        "postgresql+asyncpg://", "postgresql://"
    )


def make_engine(database_url: str) -> Engine:
    """Create an engine; nothing connects until it is used."""
    return create_engine(sqlalchemy_url(database_url), pool_pre_ping=True)
