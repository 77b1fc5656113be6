"""login throttling: failed log-ins per account and per client address (issue 18)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('account', 'address')", name=op.f("ck_login_failures_kind")),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_last_failure_at", "login_failures", ["last_failure_at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_last_failure_at", table_name="login_failures")
    op.drop_table("login_failures")
