"""The database: one SQLAlchemy MetaData, one Alembic history, and the TimescaleDB set-up around it."""
