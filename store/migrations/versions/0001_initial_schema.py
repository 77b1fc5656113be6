"""initial schema: tenants, vehicles, devices, telemetry hypertables, rollups, dead letters

Revision ID: 0001
Revises:
Create Date: 2026-11-26 22:36:04.168940
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from store.timescale import edition_from_license, setup_statements

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_bytes", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "reason IN ('not_json', 'schema', 'too_large', 'unknown_device', 'revoked_device', 'vin_mismatch', 'ts_out_of_range', 'topic_device_mismatch', 'unknown_topic')",  # noqa: E501
            name=op.f("ck_dead_letters_reason"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index("ix_dead_letters_reason_received_at", "dead_letters", ["reason", "received_at"], unique=False)
    op.create_index("ix_dead_letters_received_at", "dead_letters", ["received_at"], unique=False)
    op.create_table(
        "dealer_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dealer_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_dealer_groups_name")),
    )
    op.create_table(
        "dtc_events",
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("mil", sa.Boolean(), nullable=False),
        sa.Column("stored", postgresql.ARRAY(sa.String(length=5)), nullable=False),
        sa.Column("pending", postgresql.ARRAY(sa.String(length=5)), nullable=False),
        sa.Column("permanent", postgresql.ARRAY(sa.String(length=5)), nullable=False),
        sa.Column("freeze_frame", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.UniqueConstraint("vehicle_id", "ts", name="uq_dtc_events_vehicle_ts"),
    )
    op.create_table(
        "rollup_invalidations",
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("vehicle_id", "bucket", name=op.f("pk_rollup_invalidations")),
    )
    op.create_table(
        "telemetry",
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("pids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.UniqueConstraint("vehicle_id", "ts", name="uq_telemetry_vehicle_ts"),
    )
    op.create_table(
        "telemetry_hourly_rollup",
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("pid", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("min", sa.Double(), nullable=False),
        sa.Column("max", sa.Double(), nullable=False),
        sa.Column("sum", sa.Double(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("vehicle_id", "pid", "bucket", name=op.f("pk_telemetry_hourly_rollup")),
    )
    op.create_table(
        "stores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="Asia/Shanghai", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["dealer_groups.id"], name=op.f("fk_stores_group_id_dealer_groups")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stores")),
        sa.UniqueConstraint("code", name=op.f("uq_stores_code")),
    )
    op.create_index(op.f("ix_stores_group_id"), "stores", ["group_id"], unique=False)
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("preferred_language", sa.String(length=2), server_default="zh", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("preferred_language IN ('zh', 'en')", name=op.f("ck_customers_language")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_customers_store_id_stores")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_index(op.f("ix_customers_store_id"), "customers", ["store_id"], unique=False)
    op.create_table(
        "vehicles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("vin", sa.String(length=17), nullable=False),
        sa.Column("make", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("engine", sa.String(length=64), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_vehicles_customer_id_customers")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_vehicles_store_id_stores")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicles")),
        sa.UniqueConstraint("vin", name=op.f("uq_vehicles_vin")),
    )
    op.create_index(op.f("ix_vehicles_customer_id"), "vehicles", ["customer_id"], unique=False)
    op.create_index(op.f("ix_vehicles_store_id"), "vehicles", ["store_id"], unique=False)
    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("state IN ('active', 'revoked')", name=op.f("ck_devices_state")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_devices_store_id_stores")),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicles.id"], name=op.f("fk_devices_vehicle_id_vehicles")),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_devices")),
    )
    op.create_index(op.f("ix_devices_store_id"), "devices", ["store_id"], unique=False)
    op.create_index(op.f("ix_devices_vehicle_id"), "devices", ["vehicle_id"], unique=False)
    op.create_table(
        "device_status",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent_version", sa.String(length=64), nullable=True),
        sa.Column("adapter", sa.String(length=128), nullable=True),
        sa.Column("protocol", sa.String(length=128), nullable=True),
        sa.Column("buffer_depth", sa.BigInteger(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
            name=op.f("fk_device_status_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_status")),
    )
    _timescale_setup()


def _timescale_setup() -> None:
    license_setting = op.get_bind().exec_driver_sql("SHOW timescaledb.license").scalar()
    for statement in setup_statements(edition_from_license(license_setting)):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS telemetry_hourly")
    op.execute("DROP MATERIALIZED VIEW IF EXISTS telemetry_hourly_cagg")
    op.execute("DROP AGGREGATE IF EXISTS pitcall_pid_stats(jsonb)")
    op.execute("DROP FUNCTION IF EXISTS pitcall_pid_stats_step(jsonb, jsonb)")
    op.execute("DROP FUNCTION IF EXISTS pitcall_pid_stats_merge(jsonb, jsonb)")
    op.drop_table("device_status")
    op.drop_index(op.f("ix_devices_vehicle_id"), table_name="devices")
    op.drop_index(op.f("ix_devices_store_id"), table_name="devices")
    op.drop_table("devices")
    op.drop_index(op.f("ix_vehicles_store_id"), table_name="vehicles")
    op.drop_index(op.f("ix_vehicles_customer_id"), table_name="vehicles")
    op.drop_table("vehicles")
    op.drop_index(op.f("ix_customers_store_id"), table_name="customers")
    op.drop_table("customers")
    op.drop_index(op.f("ix_stores_group_id"), table_name="stores")
    op.drop_table("stores")
    op.drop_table("telemetry_hourly_rollup")
    op.drop_table("telemetry")
    op.drop_table("rollup_invalidations")
    op.drop_table("dtc_events")
    op.drop_table("dealer_groups")
    op.drop_index("ix_dead_letters_received_at", table_name="dead_letters")
    op.drop_index("ix_dead_letters_reason_received_at", table_name="dead_letters")
    op.drop_table("dead_letters")
