"""Tables of the dealership service workflow (issue 5): people and keys, store capacity, parts,
bookings, work orders, surveys and the notification outbox. Same MetaData as store.tables.

Invariants the database enforces, not only Python:
- a technician or a bay is never in two confirmed bookings at once (exclusion constraints on the
  booking's period, btree_gist);
- a store never reserves more of a part than it has on hand plus the quantity on its way;
- one work order per booking, one survey per work order, one delivery per event and subscription.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSTZRANGE, ExcludeConstraint

from store.tables import _created_at, _in, metadata

ROLES = ("service_manager", "service_advisor", "technician", "integration", "group_admin")
PERSON_ROLES = ("service_manager", "service_advisor", "technician", "group_admin")
CHANNELS = ("sms", "email", "wechat", "phone")
BOOKING_STATES = ("proposed", "confirmed", "in_service", "completed", "cancelled")
CAPACITY_BOOKING_STATES = ("confirmed", "in_service")  # the states that hold a technician, a bay and parts
WORK_ORDER_STATES = ("check_in", "diagnosis", "repair", "quality_check", "settlement", "closed", "cancelled")
RESERVATION_STATES = ("reserved", "consumed", "released")
DELIVERY_CHANNELS = ("webhook", "sms", "email", "wechat")
DELIVERY_STATES = ("pending", "delivered", "dead")
HOLDS_CAPACITY = _in("state", CAPACITY_BOOKING_STATES)


users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("group_id", ForeignKey("dealer_groups.id"), nullable=False, index=True),
    Column("store_id", ForeignKey("stores.id"), index=True),  # NULL for a group admin
    Column("username", String(100), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("role", String(32), nullable=False),
    Column("language", String(2), nullable=False, server_default="zh"),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    _created_at(),
    CheckConstraint(_in("role", PERSON_ROLES), name="role"),
    CheckConstraint("(role = 'group_admin') = (store_id IS NULL)", name="store_scope"),
    CheckConstraint("language IN ('zh', 'en')", name="language"),
)

# Failed log-ins per account (the username as typed, lower-cased) and per client address: the
# throttle's counters, shared by every API worker (api/auth/throttle.py). A row disappears on success
# (account), when an admin clears it, or once its failures are older than the window.
login_failures = Table(
    "login_failures",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", DateTime(timezone=True), nullable=False),
    Column("locked_until", DateTime(timezone=True)),
    CheckConstraint("kind IN ('account', 'address')", name="kind"),
    Index("ix_login_failures_last_failure_at", "last_failure_at"),
)

# An integration's key: shown once; kept as a SHA-256 of the whole key, found by its public prefix.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("group_id", ForeignKey("dealer_groups.id"), nullable=False, index=True),
    Column("store_id", ForeignKey("stores.id"), index=True),  # NULL: every store of the group
    Column("name", String(200), nullable=False),
    Column("key_prefix", String(16), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False),
    _created_at(),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
)

technicians = Table(
    "technicians",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("skills", ARRAY(String(32)), nullable=False, server_default="{}"),
    Column("user_id", ForeignKey("users.id")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    _created_at(),
)

# A technician's weekly shift: ISO weekday (1 = Monday) and local times in the store's time zone.
technician_shifts = Table(
    "technician_shifts",
    metadata,
    Column("technician_id", ForeignKey("technicians.id", ondelete="CASCADE"), primary_key=True),
    Column("weekday", SmallInteger, primary_key=True),
    Column("starts_at", Time, nullable=False),
    Column("ends_at", Time, nullable=False),
    CheckConstraint("weekday BETWEEN 1 AND 7", name="weekday"),
    CheckConstraint("starts_at < ends_at", name="order"),
)

bays = Table(
    "bays",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    UniqueConstraint("store_id", "name", name="uq_bays_store_name"),
)

# The store's opening hours per ISO weekday (a day without a row is closed).
opening_hours = Table(
    "opening_hours",
    metadata,
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    Column("weekday", SmallInteger, primary_key=True),
    Column("opens_at", Time, nullable=False),
    Column("closes_at", Time, nullable=False),
    CheckConstraint("weekday BETWEEN 1 AND 7", name="weekday"),
    CheckConstraint("opens_at < closes_at", name="order"),
)

# Per-store workflow settings.
store_settings = Table(
    "store_settings",
    metadata,
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    Column("auto_propose_critical", Boolean, nullable=False, server_default=text("false")),
    Column("slot_step_minutes", SmallInteger, nullable=False, server_default="30"),
    Column("booking_horizon_days", SmallInteger, nullable=False, server_default="21"),
)

parts = Table(
    "parts",
    metadata,
    Column("part_no", String(32), primary_key=True),
    Column("name_en", String(200), nullable=False),
    Column("name_zh", String(200), nullable=False),
)

# The catalog of service operations, shared by the group's stores.
service_operations = Table(
    "service_operations",
    metadata,
    Column("op_code", String(32), primary_key=True),
    Column("name_en", String(200), nullable=False),
    Column("name_zh", String(200), nullable=False),
    Column("skill", String(32), nullable=False),
    Column("labour_hours", Double, nullable=False),
    Column("parts", JSONB, nullable=False, server_default="[]"),  # [{"part_no": ..., "qty": ...}]
    Column("modes", ARRAY(String(32)), nullable=False, server_default="{}"),
    Column("dtcs", ARRAY(String(5)), nullable=False, server_default="{}"),
    CheckConstraint("labour_hours > 0", name="labour"),
)

part_stock = Table(
    "part_stock",
    metadata,
    Column("store_id", ForeignKey("stores.id"), primary_key=True),
    Column("part_no", ForeignKey("parts.part_no"), primary_key=True),
    Column("on_hand", Integer, nullable=False, server_default="0"),
    Column("reserved", Integer, nullable=False, server_default="0"),
    Column("incoming_qty", Integer, nullable=False, server_default="0"),
    Column("incoming_on", Date),
    CheckConstraint("on_hand >= 0 AND reserved >= 0 AND incoming_qty >= 0", name="non_negative"),
    CheckConstraint("reserved <= on_hand + incoming_qty", name="reservable"),
)

bookings = Table(
    "bookings",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("vehicle_id", ForeignKey("vehicles.id"), nullable=False, index=True),
    Column("alert_id", ForeignKey("alerts.id"), index=True),
    Column("op_code", ForeignKey("service_operations.op_code"), nullable=False),
    Column("technician_id", ForeignKey("technicians.id"), nullable=False),
    Column("bay_id", ForeignKey("bays.id"), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("period", TSTZRANGE, Computed("tstzrange(starts_at, ends_at, '[)')", persisted=True)),
    Column("state", String(16), nullable=False),
    Column("note", Text),
    Column("created_by", String(100), nullable=False),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("cancel_reason", Text),
    CheckConstraint(_in("state", BOOKING_STATES), name="state"),
    CheckConstraint("starts_at < ends_at", name="order"),
    ExcludeConstraint(
        ("technician_id", "="), ("period", "&&"), name="ex_bookings_technician", where=text(HOLDS_CAPACITY)
    ),
    ExcludeConstraint(("bay_id", "="), ("period", "&&"), name="ex_bookings_bay", where=text(HOLDS_CAPACITY)),
    Index("ix_bookings_store_starts_at", "store_id", "starts_at"),
)

part_reservations = Table(
    "part_reservations",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("booking_id", ForeignKey("bookings.id"), nullable=False, index=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("part_no", ForeignKey("parts.part_no"), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("available_on", Date, nullable=False),
    Column("state", String(16), nullable=False, server_default="reserved"),
    CheckConstraint("qty > 0", name="qty"),
    CheckConstraint(_in("state", RESERVATION_STATES), name="state"),
)

work_orders = Table(
    "work_orders",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("vehicle_id", ForeignKey("vehicles.id"), nullable=False, index=True),
    Column("booking_id", ForeignKey("bookings.id"), unique=True),
    Column("alert_id", ForeignKey("alerts.id"), index=True),
    Column("op_code", ForeignKey("service_operations.op_code")),
    Column("technician_id", ForeignKey("technicians.id")),
    Column("state", String(16), nullable=False, server_default="check_in"),
    Column("complaint", Text, nullable=False, server_default=""),
    Column("evidence", JSONB, nullable=False, server_default="{}"),
    Column("findings", Text, nullable=False, server_default=""),
    Column("labour_hours", Double),
    Column("alert_outcome", String(16)),
    Column("amount_cny", Double),
    Column("created_by", String(100), nullable=False),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("closed_at", DateTime(timezone=True)),
    CheckConstraint(_in("state", WORK_ORDER_STATES), name="state"),
    CheckConstraint("alert_outcome IN ('confirmed', 'not_found')", name="outcome"),
    Index("ix_work_orders_store_state", "store_id", "state"),
)

work_order_transitions = Table(
    "work_order_transitions",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("work_order_id", ForeignKey("work_orders.id"), nullable=False, index=True),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", String(100), nullable=False),
    Column("note", Text),
)

work_order_parts = Table(
    "work_order_parts",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("work_order_id", ForeignKey("work_orders.id"), nullable=False, index=True),
    Column("part_no", ForeignKey("parts.part_no"), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("reservation_id", ForeignKey("part_reservations.id")),
    CheckConstraint("qty > 0", name="qty"),
)

# The customer's satisfaction survey after a closed work order; the link carries a token kept hashed.
surveys = Table(
    "surveys",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("work_order_id", ForeignKey("work_orders.id"), nullable=False, unique=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("language", String(2), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("answered_at", DateTime(timezone=True)),
    Column("score", SmallInteger),
    Column("comment", Text),
    CheckConstraint("score BETWEEN 1 AND 10", name="score"),
)

# Events written in the same transaction as the change that causes them; fanned out to deliveries.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("subject_id", BigInteger, nullable=False),
    Column("payload", JSONB, nullable=False),
    _created_at(),
    Column("dispatched_at", DateTime(timezone=True)),
    Index("ix_outbox_undispatched", "id", postgresql_where=text("dispatched_at IS NULL")),
    Index("ix_outbox_store_type_id", "store_id", "event_type", "id"),
)

# An integration's webhook. The signing secret is derived from the server's webhook key and the id,
# so no secret is stored (docs/api.md).
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("group_id", ForeignKey("dealer_groups.id"), nullable=False),
    Column("store_id", ForeignKey("stores.id")),  # NULL: every store of the group
    Column("url", Text, nullable=False),
    Column("event_types", ARRAY(String(64)), nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_by", String(100), nullable=False),
    _created_at(),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("outbox_id", ForeignKey("outbox.id"), nullable=False),
    Column("store_id", ForeignKey("stores.id"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("subscription_id", ForeignKey("webhook_subscriptions.id")),
    Column("recipient", Text, nullable=False),
    Column("state", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    _created_at(),
    CheckConstraint(_in("channel", DELIVERY_CHANNELS), name="channel"),
    CheckConstraint(_in("state", DELIVERY_STATES), name="state"),
    UniqueConstraint("outbox_id", "channel", "recipient", name="uq_deliveries_event_recipient"),
    Index("ix_deliveries_due", "next_attempt_at", postgresql_where=text("state = 'pending'")),
    Index("ix_deliveries_store_state", "store_id", "state"),
)
