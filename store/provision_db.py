"""Create the application database if it does not exist (development and CI convenience)."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from store.db import sqlalchemy_url


def ensure_database(database_url: str) -> bool:
    """Create the database named in the URL on its server; return True if it was created."""
    url = make_url(sqlalchemy_url(database_url))
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database})
            if exists:
                return False
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
            return True
    finally:
        admin.dispose()
