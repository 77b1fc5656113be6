"""Tables of the pitcall database: the one MetaData that Alembic migrates.

Telemetry is one row per sample (vehicle, timestamp) with the sample's readings in a jsonb object
keyed by python-OBD command name; docs/store.md explains why (measured against a narrow layout).
Alerts (predictive-maintenance findings and their lifecycle) are rows here; predict/alerts.py owns
their rules.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


def _created_at() -> Column[object]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


dealer_groups = Table(
    "dealer_groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    _created_at(),
)

stores = Table(
    "stores",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("group_id", ForeignKey("dealer_groups.id"), nullable=False, index=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False, server_default="Asia/Shanghai"),
    _created_at(),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("phone", String(32)),
    Column("email", String(254)),
    Column("preferred_language", String(2), nullable=False, server_default="zh"),
    Column("preferred_channel", String(16), nullable=False, server_default="sms"),
    Column("wechat_id", String(64)),
    Column("consent_proactive_contact", Boolean, nullable=False, server_default=text("false")),
    Column("consent_telematics", Boolean, nullable=False, server_default=text("false")),
    CheckConstraint("preferred_language IN ('zh', 'en')", name="language"),
    CheckConstraint("preferred_channel IN ('sms', 'email', 'wechat', 'phone')", name="channel"),
    _created_at(),
)

vehicles = Table(
    "vehicles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False, index=True),
    Column("customer_id", ForeignKey("customers.id"), index=True),
    Column("vin", String(17), nullable=False, unique=True),
    Column("make", String(64), nullable=False),
    Column("model", String(64), nullable=False),
    Column("year", SmallInteger, nullable=False),
    Column("engine", String(64), nullable=False, server_default=""),
    _created_at(),
)

devices = Table(
    "devices",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False, index=True),
    Column("vehicle_id", ForeignKey("vehicles.id"), nullable=False, index=True),
    Column("secret_hash", Text, nullable=False),
    Column("state", String(16), nullable=False, server_default="active"),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_seen_at", DateTime(timezone=True)),
    Column("last_seq", BigInteger),
    CheckConstraint("state IN ('active', 'revoked')", name="state"),
    _created_at(),
)

# Hypertable on ts; unique (vehicle_id, ts) makes redelivered samples idempotent.
telemetry = Table(
    "telemetry",
    metadata,
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("vehicle_id", Integer, nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("pids", JSONB, nullable=False),
    UniqueConstraint("vehicle_id", "ts", name="uq_telemetry_vehicle_ts"),
)

dtc_events = Table(
    "dtc_events",
    metadata,
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("vehicle_id", Integer, nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("mil", Boolean, nullable=False),
    Column("stored", ARRAY(String(5)), nullable=False),
    Column("pending", ARRAY(String(5)), nullable=False),
    Column("permanent", ARRAY(String(5)), nullable=False),
    Column("freeze_frame", JSONB),
    UniqueConstraint("vehicle_id", "ts", name="uq_dtc_events_vehicle_ts"),
)

device_status = Table(
    "device_status",
    metadata,
    Column("device_id", ForeignKey("devices.device_id", ondelete="CASCADE"), primary_key=True),
    Column("online", Boolean, nullable=False),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("agent_version", String(64)),
    Column("adapter", String(128)),
    Column("protocol", String(128)),
    Column("buffer_depth", BigInteger),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

DEAD_LETTER_REASONS = (
    "not_json",
    "schema",
    "too_large",
    "unknown_device",
    "revoked_device",
    "vin_mismatch",
    "ts_out_of_range",
    "topic_device_mismatch",
    "unknown_topic",
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("topic", Text, nullable=False),
    Column("device_id", String(64)),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("payload_bytes", Integer, nullable=False),
    CheckConstraint("reason IN (" + ", ".join(f"'{r}'" for r in DEAD_LETTER_REASONS) + ")", name="reason"),
    Index("ix_dead_letters_received_at", "received_at"),
    Index("ix_dead_letters_reason_received_at", "reason", "received_at"),
)

# Per vehicle, per PID, per hour. On the Apache edition pitcall's rollup job fills this table; see
# store/timescale.py for the licensed edition's continuous aggregate behind the same view.
telemetry_hourly_rollup = Table(
    "telemetry_hourly_rollup",
    metadata,
    Column("vehicle_id", Integer, primary_key=True),
    Column("pid", String(64), primary_key=True),
    Column("bucket", DateTime(timezone=True), primary_key=True),
    Column("min", Double, nullable=False),
    Column("max", Double, nullable=False),
    Column("sum", Double, nullable=False),
    Column("count", Integer, nullable=False),
)

# Vehicle-hours whose rollup must be recomputed because samples arrived for them.
rollup_invalidations = Table(
    "rollup_invalidations",
    metadata,
    Column("vehicle_id", Integer, primary_key=True),
    Column("bucket", DateTime(timezone=True), primary_key=True),
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


FAILURE_MODES = ("battery", "charging_system", "thermostat", "overheating", "fuel_lean", "misfire", "catalyst")
ALERT_STATES = ("watch", "open", "acknowledged", "booked", "resolved", "dismissed")
# One of these per vehicle and mode at most: the queue's states, and the watch list of a held mode
LIVE_ALERT_STATES = ("watch", "open", "acknowledged", "booked")
SEVERITIES = ("info", "warning", "critical")
ALERT_OUTCOMES = ("confirmed", "not_found")
DAY_QUALITIES = ("ok", "sparse", "garbage")
LIVE_ALERT_PREDICATE = _in("state", LIVE_ALERT_STATES)  # of the partial unique index; ON CONFLICT repeats it

# One row per predicted failure of one vehicle. observed_at and first_observed_at are data time (the
# evidence's timestamps); created_at/updated_at are wall clock. At most one live alert per vehicle and mode.
alerts = Table(
    "alerts",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False, index=True),
    Column("vehicle_id", ForeignKey("vehicles.id"), nullable=False),
    Column("mode", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("confidence", Double, nullable=False),
    Column("observed_at", DateTime(timezone=True), nullable=False),
    Column("first_observed_at", DateTime(timezone=True), nullable=False),
    Column("days_to_failure", Double),
    Column("evidence", JSONB, nullable=False),
    Column("operation", String(32), nullable=False),
    Column("parts", JSONB, nullable=False),
    Column("model_version", String(64), nullable=False),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("booked_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    Column("outcome", String(16)),
    Column("dismiss_reason", Text),
    Column("closed_by", String(100)),
    CheckConstraint(_in("mode", FAILURE_MODES), name="mode"),
    CheckConstraint(_in("state", ALERT_STATES), name="state"),
    CheckConstraint(_in("severity", SEVERITIES), name="severity"),
    CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence"),
    CheckConstraint(_in("outcome", ALERT_OUTCOMES), name="outcome"),
    Index(
        "uq_alerts_live_vehicle_mode",
        "vehicle_id",
        "mode",
        unique=True,
        postgresql_where=text(LIVE_ALERT_PREDICATE),
    ),
    Index("ix_alerts_store_state_severity", "store_id", "state", "severity"),
)

alert_transitions = Table(
    "alert_transitions",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("alert_id", ForeignKey("alerts.id"), nullable=False, index=True),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", String(100), nullable=False),
    Column("note", Text),
)

# Each store's alert threshold per mode as the false-alert budget set it on the last day scored
# (predict.budget): what the API and the console show beside the store's live alert rate.
prediction_calibration = Table(
    "prediction_calibration",
    metadata,
    Column("store_id", ForeignKey("stores.id"), primary_key=True),
    Column("mode", String(32), primary_key=True),
    Column("day", Date, nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("threshold_z", Double, nullable=False),
    Column("model_threshold_z", Double, nullable=False),
    Column("budget_threshold_z", Double, nullable=False),
    Column("store_cars", Integer, nullable=False),
    Column("fleet_cars", Integer, nullable=False),
    Column("budget_per_1000_vm", Double, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_in("mode", FAILURE_MODES), name="mode"),
)

# Daily features per vehicle that prediction computes and the console charts.
vehicle_day_features = Table(
    "vehicle_day_features",
    metadata,
    Column("vehicle_id", ForeignKey("vehicles.id"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("features", JSONB, nullable=False),
    Column("quality", String(16), nullable=False, server_default="ok"),
    Column("computed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_in("quality", DAY_QUALITIES), name="quality"),
)
