"""alerts: predictive-maintenance alerts, their transitions, and daily vehicle features

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "state IN ('open', 'acknowledged', 'booked')"


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("days_to_failure", sa.Double(), nullable=True),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("parts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("dismiss_reason", sa.Text(), nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "mode IN ('battery', 'charging_system', 'thermostat', 'overheating', 'fuel_lean', 'misfire', 'catalyst')",
            name=op.f("ck_alerts_mode"),
        ),
        sa.CheckConstraint(
            "state IN ('open', 'acknowledged', 'booked', 'resolved', 'dismissed')", name=op.f("ck_alerts_state")
        ),
        sa.CheckConstraint("severity IN ('info', 'warning', 'critical')", name=op.f("ck_alerts_severity")),
        sa.CheckConstraint("confidence >= 0 AND confidence <= 1", name=op.f("ck_alerts_confidence")),
        sa.CheckConstraint("outcome IN ('confirmed', 'not_found')", name=op.f("ck_alerts_outcome")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_alerts_store_id_stores")),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicles.id"], name=op.f("fk_alerts_vehicle_id_vehicles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_store_id"), "alerts", ["store_id"], unique=False)
    op.create_index("ix_alerts_store_state_severity", "alerts", ["store_id", "state", "severity"], unique=False)
    op.create_index(
        "uq_alerts_live_vehicle_mode", "alerts", ["vehicle_id", "mode"], unique=True, postgresql_where=sa.text(LIVE)
    )
    op.create_table(
        "alert_transitions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_alert_transitions_alert_id_alerts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_transitions")),
    )
    op.create_index(op.f("ix_alert_transitions_alert_id"), "alert_transitions", ["alert_id"], unique=False)
    op.create_table(
        "vehicle_day_features",
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("features", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("quality", sa.String(length=16), server_default="ok", nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("quality IN ('ok', 'sparse', 'garbage')", name=op.f("ck_vehicle_day_features_quality")),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicles.id"], name=op.f("fk_vehicle_day_features_vehicle_id_vehicles")
        ),
        sa.PrimaryKeyConstraint("vehicle_id", "day", name=op.f("pk_vehicle_day_features")),
    )


def downgrade() -> None:
    op.drop_table("vehicle_day_features")
    op.drop_index(op.f("ix_alert_transitions_alert_id"), table_name="alert_transitions")
    op.drop_table("alert_transitions")
    op.drop_index("uq_alerts_live_vehicle_mode", table_name="alerts", postgresql_where=sa.text(LIVE))
    op.drop_index("ix_alerts_store_state_severity", table_name="alerts")
    op.drop_index(op.f("ix_alerts_store_id"), table_name="alerts")
    op.drop_table("alerts")
