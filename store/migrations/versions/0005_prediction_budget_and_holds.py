"""prediction: the watch list of a held mode (alert state 'watch'), each store's calibrated thresholds

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "state IN ('open', 'acknowledged', 'booked', 'resolved', 'dismissed')"
NEW_STATES = "state IN ('watch', 'open', 'acknowledged', 'booked', 'resolved', 'dismissed')"
OLD_LIVE = "state IN ('open', 'acknowledged', 'booked')"
NEW_LIVE = "state IN ('watch', 'open', 'acknowledged', 'booked')"
MODES = "mode IN ('battery', 'charging_system', 'thermostat', 'overheating', 'fuel_lean', 'misfire', 'catalyst')"


def _states(check: str, live: str) -> None:
    op.drop_constraint(op.f("ck_alerts_state"), "alerts", type_="check")
    op.create_check_constraint(op.f("ck_alerts_state"), "alerts", check)
    op.drop_index("uq_alerts_live_vehicle_mode", table_name="alerts")
    op.create_index(
        "uq_alerts_live_vehicle_mode", "alerts", ["vehicle_id", "mode"], unique=True, postgresql_where=sa.text(live)
    )


def upgrade() -> None:
    _states(NEW_STATES, NEW_LIVE)
    op.create_table(
        "prediction_calibration",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("threshold_z", sa.Double(), nullable=False),
        sa.Column("model_threshold_z", sa.Double(), nullable=False),
        sa.Column("budget_threshold_z", sa.Double(), nullable=False),
        sa.Column("store_cars", sa.Integer(), nullable=False),
        sa.Column("fleet_cars", sa.Integer(), nullable=False),
        sa.Column("budget_per_1000_vm", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(MODES, name=op.f("ck_prediction_calibration_mode")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_prediction_calibration_store_id_stores")),
        sa.PrimaryKeyConstraint("store_id", "mode", name=op.f("pk_prediction_calibration")),
    )


def downgrade() -> None:
    op.drop_table("prediction_calibration")
    op.execute("UPDATE alerts SET state = 'dismissed', dismiss_reason = 'watch list removed by downgrade',"
               " closed_at = now(), closed_by = 'migration 0005' WHERE state = 'watch'")  # fmt: skip
    _states(OLD_STATES, OLD_LIVE)
