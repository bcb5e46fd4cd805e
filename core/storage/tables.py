"""SQLAlchemy 2.x typed tables. Every tenant table carries ``company_id``.

ORM rows stay in core/ and are converted to and from ``storeflow.core.commerce.records`` explicitly.
Times are stored as naive UTC and read back as aware UTC (``UTCDateTime``), which
behaves the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storeflow.core.clock import now
from storeflow.core.commerce.records import EventName
from storeflow.core.statuses import (
    CommandStatus,
    ConnectStatus,
    DeliveryStatus,
    EnrollmentStatus,
    Health,
    IntegrationStatus,
    JobStatus,
    MessageStatus,
    OrderStatus,
    SequenceStatus,
    StepStatus,
    SubscriberStatus,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    # Every mapping here is a plain Table (SQLAlchemy types it as any FromClause).
    __table__: ClassVar[Table]
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


def _id() -> Mapped[int]:
    return mapped_column(BigId, primary_key=True, autoincrement=True)


def _company() -> Mapped[int]:
    return mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)


def _created() -> Mapped[datetime]:
    return mapped_column(default=now)


# --- accounts -------------------------------------------------------------------------


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[int] = _id()
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _created()


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = _id()
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _created()
    # --- hardening: page sessions carry this number; signing out or a new password
    # increments it, which ends every session of the user (cookies cannot be recalled).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "company_id"),)
    id: Mapped[int] = _id()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    company_id: Mapped[int] = _company()
    role: Mapped[str] = mapped_column(String(20))  # owner | admin | member


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    prefix: Mapped[str] = mapped_column(String(24))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _created()
    revoked_at: Mapped[datetime | None]


# --- integrations and inbound traffic -------------------------------------------------


class Integration(Base):
    __tablename__ = "integrations"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    company_id: Mapped[int] = _company()
    provider: Mapped[str] = mapped_column(String(40))
    store_url: Mapped[str] = mapped_column(String(500), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[IntegrationStatus] = mapped_column(String(20), default="connected")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Verifies provider-native webhooks (WooCommerce HMAC); must be readable to verify.
    webhook_secret: Mapped[str | None] = mapped_column(String(200))
    # Plugin traffic: a bearer installation token (stored hashed) plus Standard
    # Webhooks signatures with the signing secret (``whsec_...``; readable to verify).
    installation_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    signing_secret: Mapped[str | None] = mapped_column(String(200))
    # --- shopify: the Admin API access token, encrypted (storeflow.core.stores.integrations).
    access_token_ciphertext: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # What the plugin last told us (heartbeats) and how syncing went.
    plugin_version: Mapped[str | None] = mapped_column(String(40))
    wp_version: Mapped[str | None] = mapped_column(String(40))
    wc_version: Mapped[str | None] = mapped_column(String(40))
    last_seen_at: Mapped[datetime | None]
    last_sync_at: Mapped[datetime | None]
    last_sync_error: Mapped[str | None] = mapped_column(Text)
    # Connection lifecycle (storeflow.core.stores.connections) and health
    # (storeflow.core.stores.health).
    connected_at: Mapped[datetime | None]
    disconnected_at: Mapped[datetime | None]
    disconnect_reason: Mapped[str | None] = mapped_column(Text)
    # healthy | stale | failing: recomputed by heartbeats and by the sweeper.
    health: Mapped[Health] = mapped_column(String(20), default="healthy", server_default="healthy")
    health_reasons: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    health_changed_at: Mapped[datetime | None]
    # The last heartbeat's report: {"queue": {"pending", "failed"}, "lastError", "storeUrl"}.
    plugin_state: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class PluginRequest(Base):
    """A ``webhook-id`` seen from a plugin, with the answer given: a repeat gets it again."""

    __tablename__ = "plugin_requests"
    __table_args__ = (UniqueConstraint("integration_id", "webhook_id"),)
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    webhook_id: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(300))
    status: Mapped[int] = mapped_column(Integer, default=200)
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Indexed for the retention sweep (storeflow.core.work.retention).
    created_at: Mapped[datetime] = mapped_column(default=now, index=True)


class InboundDelivery(Base):
    """A raw request as received: the record that nothing is lost."""

    __tablename__ = "inbound_deliveries"
    __table_args__ = (UniqueConstraint("integration_id", "dedupe_key"),)
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40), default="webhook")  # webhook | sync | event
    topic: Mapped[str] = mapped_column(String(100))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[DeliveryStatus] = mapped_column(String(20), default="pending", index=True)
    error: Mapped[str | None] = mapped_column(Text)
    # Indexed for the retention sweep (storeflow.core.work.retention).
    received_at: Mapped[datetime] = mapped_column(default=now, index=True)
    processed_at: Mapped[datetime | None]


class Job(Base):
    """The outbox: the database's record of work still to do (Huey only wakes workers)."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("company_id", "kind", "key"),
        # Partial: the claim, the lease sweep and the prune each read only their rows.
        Index(
            "ix_jobs_pending_due",
            "available_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index(
            "ix_jobs_running_lease",
            "lease_until",
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
        Index(
            "ix_jobs_done_at",
            "done_at",
            postgresql_where=text("status = 'done'"),
            sqlite_where=text("status = 'done'"),
        ),
    )
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    kind: Mapped[str] = mapped_column(String(40))
    # Idempotency key: the same piece of work is never queued twice.
    key: Mapped[str] = mapped_column(String(200))
    ref_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[JobStatus] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(default=now)
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    done_at: Mapped[datetime | None]


# --- commerce state -------------------------------------------------------------------


class Subscriber(Base):
    __tablename__ = "subscribers"
    __table_args__ = (UniqueConstraint("company_id", "email"),)
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    email: Mapped[str] = mapped_column(String(320))  # trimmed, lower-cased
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[SubscriberStatus] = mapped_column(String(20), default="active")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class StoreCustomer(Base):
    """A store's own customer account, linked to the company-wide subscriber."""

    __tablename__ = "store_customers"
    __table_args__ = (UniqueConstraint("integration_id", "provider_customer_id"),)
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    provider_customer_id: Mapped[str] = mapped_column(String(64))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    source_modified_at: Mapped[datetime | None]
    # Fingerprint of the last applied record: equal times + equal hash = unchanged.
    source_hash: Mapped[str | None] = mapped_column(String(32))


class ProductRow(Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("integration_id", "provider_product_id"),)
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(40))
    provider_product_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500), default="")
    type: Mapped[str] = mapped_column(String(40), default="simple")
    status: Mapped[str] = mapped_column(String(40), default="publish")
    slug: Mapped[str] = mapped_column(String(300), default="")
    url: Mapped[str | None] = mapped_column(String(1000))
    image_url: Mapped[str | None] = mapped_column(String(1000))
    categories: Mapped[list[Any]] = mapped_column(default=list)
    price_cents: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    stock_status: Mapped[str | None] = mapped_column(String(40))
    stock_quantity: Mapped[int | None] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    source_modified_at: Mapped[datetime | None]
    source_hash: Mapped[str | None] = mapped_column(String(32))
    # When a ``{"id": N}`` deletion arrived: payloads modified before it stay stale.
    deleted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class VariantRow(Base):
    __tablename__ = "variants"
    __table_args__ = (UniqueConstraint("integration_id", "provider_variant_id"),)
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    provider_variant_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500), default="")
    sku: Mapped[str] = mapped_column(String(200), default="")
    price_cents: Mapped[int | None] = mapped_column(BigInteger)
    stock_status: Mapped[str | None] = mapped_column(String(40))
    stock_quantity: Mapped[int | None] = mapped_column(Integer)
    image_url: Mapped[str | None] = mapped_column(String(1000))
    url: Mapped[str | None] = mapped_column(String(1000))
    source_modified_at: Mapped[datetime | None]
    source_hash: Mapped[str | None] = mapped_column(String(32))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None]
    # Back-in-stock (0011): the product's stock is this variant's (``manage_stock: "parent"``).
    stock_from_parent: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("integration_id", "provider_order_id"),)
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(40))
    provider_order_id: Mapped[str] = mapped_column(String(64))
    order_number: Mapped[str] = mapped_column(String(64), default="")
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(40))  # provider status verbatim
    state: Mapped[OrderStatus] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    total_cents: Mapped[int] = mapped_column(BigInteger)
    refunded_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    ordered_at: Mapped[datetime]
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    source_modified_at: Mapped[datetime | None]
    # Placed but not paid yet (WooCommerce "pending"): not revenue (see storeflow.core.commerce.profiles).
    awaiting_payment: Mapped[bool] = mapped_column(Boolean, default=False)
    source_hash: Mapped[str | None] = mapped_column(String(32))
    deleted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class OrderLine(Base):
    __tablename__ = "order_lines"
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    provider_product_id: Mapped[str] = mapped_column(String(64))
    provider_variant_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500), default="")
    variant_title: Mapped[str] = mapped_column(String(500), default="")
    sku: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    price_cents: Mapped[int] = mapped_column(BigInteger)
    total_cents: Mapped[int] = mapped_column(BigInteger)
    image_url: Mapped[str | None] = mapped_column(String(1000))


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("company_id", "idempotency_key"),
        Index("ix_events_company_name_occurred", "company_id", "name", "occurred_at"),
    )
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    name: Mapped[EventName] = mapped_column(String(100))
    idempotency_key: Mapped[str] = mapped_column(String(300))
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id"), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    provider: Mapped[str | None] = mapped_column(String(40))
    integration_id: Mapped[str | None] = mapped_column(String(40))
    occurred_at: Mapped[datetime]
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # live events run automations; historical ones (sync backfill) only update state
    live: Mapped[bool] = mapped_column(Boolean, default=True)
    # Indexed for the retention sweep (storeflow.core.work.retention).
    created_at: Mapped[datetime] = mapped_column(default=now, index=True)


# --- automation ------------------------------------------------------------------------


class Sequence(Base):
    __tablename__ = "sequences"
    __table_args__ = (UniqueConstraint("company_id", "slug"),)
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    slug: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[SequenceStatus] = mapped_column(String(20), default="active")
    priority: Mapped[int] = mapped_column(Integer, default=50)
    trigger_event: Mapped[EventName] = mapped_column(String(100), index=True)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(300), default="api")  # "api" or the rule file
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
    # Deleted sequences are kept (their enrollments and send ledger are history).
    deleted_at: Mapped[datetime | None]


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        # One enrollment per (sequence, entry event): re-delivery can never double-enrol.
        UniqueConstraint("sequence_id", "entry_event_id"),
        # Set only while active (NULL otherwise), so "one active run per value" is a
        # unique constraint on both SQLite and PostgreSQL.
        UniqueConstraint("sequence_id", "subscriber_id", "active_key"),
    )
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    sequence_id: Mapped[int] = mapped_column(
        ForeignKey("sequences.id", ondelete="CASCADE"), index=True
    )
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[EnrollmentStatus] = mapped_column(String(20), default="active")
    stop_reason: Mapped[str | None] = mapped_column(Text)
    # Indexed: the retention sweep keeps the events enrollments start from.
    entry_event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    entry_event_name: Mapped[EventName] = mapped_column(String(100))
    entry_properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    match_value: Mapped[str | None] = mapped_column(String(300))
    active_key: Mapped[str | None] = mapped_column(String(300))
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    enrolled_at: Mapped[datetime] = mapped_column(default=now)
    finished_at: Mapped[datetime | None]
    # Stop events count when they occurred after the entry event (storeflow.rules.stopping).
    entry_occurred_at: Mapped[datetime | None]
    # The subscriber at enrolment: field_changed stops compare against it.
    subscriber_snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")


class EnrollmentStep(Base):
    __tablename__ = "enrollment_steps"
    __table_args__ = (UniqueConstraint("enrollment_id", "position"),)
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[StepStatus] = mapped_column(String(20), default="scheduled")
    due_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    detail: Mapped[str | None] = mapped_column(Text)


class Message(Base):
    """The send ledger: one row per (enrollment, step); a step sends at most once."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("enrollment_id", "step"),)
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(1000), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    sender: Mapped[str] = mapped_column(String(320), default="")
    status: Mapped[MessageStatus] = mapped_column(String(20), default="queued")
    reason: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime | None]
    message_id: Mapped[str] = mapped_column(String(300))
    # Indexed for /metrics (messages of the last day by status).
    created_at: Mapped[datetime] = mapped_column(default=now, index=True)
    sent_at: Mapped[datetime | None]
    # email | webhook: both are external effects claimed here; only email is capped.
    channel: Mapped[str] = mapped_column(String(20), default="email", server_default="email")
    # The sequence's priority when claimed (frequency capping compares it).
    priority: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # sha256 of the one-click unsubscribe token in the email's List-Unsubscribe URL.
    unsubscribe_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)


# --- connections -----------------------------------------------------------------------


class ConnectRequest(Base):
    """A store asking to be connected ("Connect to storeflow"), decided by a company admin.

    The plaintext credentials exist only between approval and the first successful
    poll, which claims them and wipes them; the poll token is stored hashed.
    """

    __tablename__ = "connect_requests"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider: Mapped[str] = mapped_column(String(40), default="woocommerce")
    poll_token_hash: Mapped[str] = mapped_column(String(64))
    store_url: Mapped[str] = mapped_column(String(500))
    site_name: Mapped[str] = mapped_column(String(200), default="")
    plugin_version: Mapped[str | None] = mapped_column(String(40))
    wp_version: Mapped[str | None] = mapped_column(String(40))
    wc_version: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    requester_ip: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[ConnectStatus] = mapped_column(String(20), default="pending")
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    integration_id: Mapped[str | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="SET NULL")
    )
    decided_by: Mapped[str | None] = mapped_column(String(400))
    installation_token: Mapped[str | None] = mapped_column(String(200))
    signing_secret: Mapped[str | None] = mapped_column(String(200))
    webhook_secret: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(index=True)
    decided_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]


class PluginCommand(Base):
    """Work for a store plugin (a sync), handed out on its heartbeats until acknowledged."""

    __tablename__ = "plugin_commands"
    # ``pending_key`` is set only while the command waits (requested or delivered), so
    # "one pending command of a type per integration" is a unique constraint.
    __table_args__ = (UniqueConstraint("integration_id", "pending_key"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(20), default="sync")
    resources: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[CommandStatus] = mapped_column(String(20), default="requested")
    pending_key: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(40), default="manual")  # initial | manual
    detail: Mapped[str | None] = mapped_column(Text)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    requested_at: Mapped[datetime] = mapped_column(default=now)
    delivered_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


# --- sync ------------------------------------------------------------------------------


class SyncRun(Base):
    """Progress of one resource of one store sync run, page by page."""

    __tablename__ = "sync_runs"
    __table_args__ = (UniqueConstraint("integration_id", "sync_run_id", "resource"),)
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    sync_run_id: Mapped[str] = mapped_column(String(100))
    resource: Mapped[str] = mapped_column(String(20))  # products | customers | orders
    pages: Mapped[int] = mapped_column(Integer, default=0)
    last_page: Mapped[int | None] = mapped_column(Integer)
    items: Mapped[int] = mapped_column(Integer, default=0)
    upserted: Mapped[int] = mapped_column(Integer, default=0)
    skipped_stale: Mapped[int] = mapped_column(Integer, default=0)
    ignored: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)
    finished_at: Mapped[datetime | None]


# --- back in stock ---


class WaitlistEntry(Base):
    """One shopper waiting for one variant of one store (``storeflow.core.commerce.waitlists``).

    One row per (store, variant, subscriber) for good: asking again after a
    notification re-arms the same row with a new ``cycle``, which is part of every
    event key, so each request and each restock is recorded exactly once.
    """

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        UniqueConstraint(
            "integration_id",
            "provider_variant_id",
            "subscriber_id",
            name="uq_waitlist_entries_member",
        ),
        # The fan-out reads a variant's waiting entries oldest first.
        Index(
            "ix_waitlist_entries_variant_status",
            "integration_id",
            "provider_variant_id",
            "status",
            "requested_at",
        ),
    )
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(40))
    provider_product_id: Mapped[str] = mapped_column(String(64))
    provider_variant_id: Mapped[str] = mapped_column(String(64))
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    product_title: Mapped[str] = mapped_column(String(500), default="")
    variant_title: Mapped[str | None] = mapped_column(String(500))
    # waiting -> notified -> (waiting again when re-armed) | purchased | cancelled
    status: Mapped[str] = mapped_column(String(20), default="waiting")
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    requested_at: Mapped[datetime] = mapped_column(default=now)
    notified_at: Mapped[datetime | None]
    # The restock that notified it (its out-of-stock-again reaches exactly these).
    restock_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class WaitlistRestock(Base):
    """A variant back in stock while shoppers wait: open until it sells out again.

    ``open_key`` is set only while open, so "one open restock per variant" is a unique
    constraint: two deliveries racing to report the same restock create one row.
    """

    __tablename__ = "waitlist_restocks"
    __table_args__ = (
        UniqueConstraint(
            "integration_id", "provider_variant_id", "open_key", name="uq_waitlist_restocks_open"
        ),
    )
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(40))
    provider_product_id: Mapped[str] = mapped_column(String(64))
    provider_variant_id: Mapped[str] = mapped_column(String(64))
    open_key: Mapped[str | None] = mapped_column(String(8))
    stock_quantity: Mapped[int | None] = mapped_column(Integer)
    # How many shoppers may be notified so far (pacing); None means everyone.
    budget: Mapped[int | None] = mapped_column(Integer)
    notified: Mapped[int] = mapped_column(Integer, default=0)
    wave: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=now)
    ended_at: Mapped[datetime | None]


# --- replenishment ---------------------------------------------------------------------
# (storeflow.core.commerce.replenishment)


class ReplenishmentSetting(Base):
    """A product's reminder setting (``PUT /api/products/<provider>/<id>/replenishment``)."""

    __tablename__ = "replenishment_settings"
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), unique=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    days: Mapped[int | None] = mapped_column(Integer)
    match: Mapped[str] = mapped_column(String(10), default="product")  # product | variant
    multiply_by_quantity: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class ReplenishmentReminder(Base):
    """One purchase's reminder for one key (``product:<id>`` or ``variant:<id>``).

    pending -> fired ; pending -> superseded (a newer purchase of the key) -> pending
    (that purchase was cancelled) ; pending | superseded -> cancelled.
    """

    __tablename__ = "replenishment_reminders"
    __table_args__ = (
        # A re-run of the order's event schedules nothing twice.
        UniqueConstraint("order_event_id", "key"),
        # One pending reminder per (store, subscriber, key).
        Index(
            "ix_replenishment_reminders_one_pending",
            "integration_id",
            "subscriber_id",
            "key",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        # The sweep reads only what is due: its cost follows the due rows, not the pending.
        Index(
            "ix_replenishment_reminders_pending_due",
            "due_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_replenishment_reminders_order", "integration_id", "provider_order_id"),
        Index("ix_replenishment_reminders_product_status", "product_id", "status"),
        Index("ix_replenishment_reminders_subscriber_status", "subscriber_id", "status"),
    )
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(40))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(80))
    match: Mapped[str] = mapped_column(String(10))
    provider_product_id: Mapped[str] = mapped_column(String(64))
    provider_variant_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500), default="")
    variant_title: Mapped[str] = mapped_column(String(500), default="")
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    days: Mapped[int] = mapped_column(Integer)
    provider_order_id: Mapped[str] = mapped_column(String(64))
    order_event_id: Mapped[int] = mapped_column(BigInteger)
    ordered_at: Mapped[datetime]
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    reason: Mapped[str | None] = mapped_column(String(200))
    fired_event_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


# --- carts ---


class CartActivity(Base):
    """One thing a store reported about a shopper's cart (``storeflow.core.commerce.carts``).

    The log a session's carts are folded from, in ``occurred_at`` order, so arrival
    order never matters; ``(integration_id, event_id)`` is the plugin's event id (a
    repeat is a duplicate). storeflow adds its own rows too: ``identified`` (a login or
    a back-in-stock request named the shopper) and ``converted`` (an order was placed).
    """

    __tablename__ = "cart_activities"
    __table_args__ = (
        UniqueConstraint("integration_id", "event_id", name="uq_cart_activities_event"),
        Index("ix_cart_activities_session", "integration_id", "session_key", "occurred_at"),
    )
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(200))
    # cart_started | cart_updated | cart_cleared | checkout_started | identified | converted
    type: Mapped[str] = mapped_column(String(20))
    session_key: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime]
    email: Mapped[str | None] = mapped_column(String(320))
    provider_customer_id: Mapped[str | None] = mapped_column(String(64))
    # {"lines": [...], "totalCents", "currency", "checkoutUrl", "orderId"} as reported
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=now)


class Cart(Base):
    """One cart of one shopping session: from its first item to its clear or purchase.

    ``first_event_id`` is the activity that made the row: a cart keeps its identity (and
    ``public_id``, the ``cartId`` of its events) when earlier activity arrives later.
    ``abandon_due_at`` and ``expires_at`` are set only while their timer runs, and each
    has an index, so the sweeps read only what is due.
    """

    __tablename__ = "carts"
    __table_args__ = (
        UniqueConstraint("integration_id", "first_event_id", name="uq_carts_first_event"),
        Index("ix_carts_session", "integration_id", "session_key"),
        Index("ix_carts_abandon_due_at", "abandon_due_at"),
        Index("ix_carts_expires_at", "expires_at"),
        Index("ix_carts_settle_due_at", "settle_due_at"),
        # An order's consumer: "any open cart?" and "the buyer's store account's carts".
        Index("ix_carts_company_status", "company_id", "status"),
        Index("ix_carts_customer", "integration_id", "provider_customer_id"),
    )
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    session_key: Mapped[str] = mapped_column(String(200))
    first_event_id: Mapped[str] = mapped_column(String(200))
    # open | cleared | converted
    status: Mapped[str] = mapped_column(String(20), default="open")
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str | None] = mapped_column(String(320))
    provider_customer_id: Mapped[str | None] = mapped_column(String(64))
    line_items: Mapped[list[Any]] = mapped_column(default=list)
    total_cents: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    checkout_url: Mapped[str | None] = mapped_column(String(2000))
    started_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]
    identified_at: Mapped[datetime | None]
    checkout_started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    converted_order_id: Mapped[str | None] = mapped_column(String(64))
    abandon_due_at: Mapped[datetime | None]
    abandoned_at: Mapped[datetime | None]
    # Why the abandonment did not fire (cooldown, purchased): shown to operators.
    abandon_skipped: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None]
    # When the session's log next settles (carts.SETTLE): its events are appended then.
    settle_due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class RecoveredOrder(Base):
    """An order placed within the attribution window after a recovery email: its revenue
    counts for that email's sequence (one row per order, the latest email wins)."""

    __tablename__ = "recovered_orders"
    __table_args__ = (
        UniqueConstraint("integration_id", "provider_order_id", name="uq_recovered_orders_order"),
    )
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    provider_order_id: Mapped[str] = mapped_column(String(64))
    sequence_id: Mapped[int] = mapped_column(
        ForeignKey("sequences.id", ondelete="CASCADE"), index=True
    )
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    total_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    ordered_at: Mapped[datetime]
    email_sent_at: Mapped[datetime]
    created_at: Mapped[datetime] = _created()


# --- suppressions ---


class Suppression(Base):
    """An address a mail server refused for good (``storeflow.rules.suppressions``): the
    company's subscriber of that address is ``suppressed`` and is never emailed again."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("company_id", "email", name="uq_suppressions_email"),)
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    email: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()


# --- shopify: stock per location and privacy exports ------------------------------------
# (storeflow.core.commerce.stock_levels, storeflow.core.commerce.privacy)


class InventoryItemRow(Base):
    """Which variant a store's inventory item counts (levels arrive by item, not variant)."""

    __tablename__ = "inventory_items"
    __table_args__ = (
        UniqueConstraint("integration_id", "inventory_item_id", name="uq_inventory_items_item"),
    )
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    inventory_item_id: Mapped[str] = mapped_column(String(64))
    provider_product_id: Mapped[str] = mapped_column(String(64))
    provider_variant_id: Mapped[str] = mapped_column(String(64))
    oversell: Mapped[bool] = mapped_column(Boolean, default=False)
    source_modified_at: Mapped[datetime | None]


class StockLevelRow(Base):
    """The available quantity of one inventory item at one location, as last reported."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        UniqueConstraint(
            "integration_id", "inventory_item_id", "location_id", name="uq_stock_levels_level"
        ),
    )
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    inventory_item_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    available: Mapped[int | None] = mapped_column(Integer)
    source_modified_at: Mapped[datetime | None]


class DataExport(Base):
    """What storeflow held about one shopper when a privacy data request arrived."""

    __tablename__ = "data_exports"
    __table_args__ = (
        UniqueConstraint("integration_id", "request_id", name="uq_data_exports_request"),
    )
    id: Mapped[int] = _id()
    company_id: Mapped[int] = _company()
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    request_id: Mapped[str] = mapped_column(String(100))
    # The identifiers the request named (erased with the export by a later redaction).
    subject: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _created()
