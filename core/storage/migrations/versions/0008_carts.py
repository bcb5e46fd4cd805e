"""carts: cart activity, carts with their abandonment and expiry timers, recovered orders

Revision ID: 0008_carts
Revises: 0007_back_in_stock
Create Date: 2026-12-01 12:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_carts"
down_revision = "0007_back_in_stock"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "cart_activities",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("company_id", BigId, nullable=False),
        sa.Column("integration_id", sa.String(40), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("session_key", sa.String(200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("provider_customer_id", sa.String(64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        _fk("cart_activities", "company_id", "companies"),
        _fk("cart_activities", "integration_id", "integrations"),
        sa.PrimaryKeyConstraint("id", name="pk_cart_activities"),
        sa.UniqueConstraint("integration_id", "event_id", name="uq_cart_activities_event"),
    )
    op.create_index("ix_cart_activities_company_id", "cart_activities", ["company_id"])
    op.create_index(
        "ix_cart_activities_session",
        "cart_activities",
        ["integration_id", "session_key", "occurred_at"],
    )
    op.create_table(
        "carts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("company_id", BigId, nullable=False),
        sa.Column("integration_id", sa.String(40), nullable=False),
        sa.Column("public_id", sa.String(40), nullable=False),
        sa.Column("session_key", sa.String(200), nullable=False),
        sa.Column("first_event_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("subscriber_id", BigId, nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("provider_customer_id", sa.String(64), nullable=True),
        sa.Column("line_items", sa.JSON(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("checkout_url", sa.String(2000), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(), nullable=False),
        sa.Column("identified_at", sa.DateTime(), nullable=True),
        sa.Column("checkout_started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("converted_order_id", sa.String(64), nullable=True),
        sa.Column("abandon_due_at", sa.DateTime(), nullable=True),
        sa.Column("abandoned_at", sa.DateTime(), nullable=True),
        sa.Column("abandon_skipped", sa.String(200), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _fk("carts", "company_id", "companies"),
        _fk("carts", "integration_id", "integrations"),
        _fk("carts", "subscriber_id", "subscribers"),
        sa.PrimaryKeyConstraint("id", name="pk_carts"),
        sa.UniqueConstraint("public_id", name="uq_carts_public_id"),
        sa.UniqueConstraint("integration_id", "first_event_id", name="uq_carts_first_event"),
    )
    op.create_index("ix_carts_company_id", "carts", ["company_id"])
    op.create_index("ix_carts_subscriber_id", "carts", ["subscriber_id"])
    op.create_index("ix_carts_session", "carts", ["integration_id", "session_key"])
    op.create_index("ix_carts_abandon_due_at", "carts", ["abandon_due_at"])
    op.create_index("ix_carts_expires_at", "carts", ["expires_at"])
    op.create_table(
        "recovered_orders",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("company_id", BigId, nullable=False),
        sa.Column("integration_id", sa.String(40), nullable=False),
        sa.Column("provider_order_id", sa.String(64), nullable=False),
        sa.Column("sequence_id", BigId, nullable=False),
        sa.Column("enrollment_id", BigId, nullable=False),
        sa.Column("message_id", BigId, nullable=False),
        sa.Column("subscriber_id", BigId, nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("ordered_at", sa.DateTime(), nullable=False),
        sa.Column("email_sent_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("recovered_orders", "company_id", "companies"),
        _fk("recovered_orders", "integration_id", "integrations"),
        _fk("recovered_orders", "sequence_id", "sequences"),
        _fk("recovered_orders", "enrollment_id", "enrollments"),
        _fk("recovered_orders", "message_id", "messages"),
        _fk("recovered_orders", "subscriber_id", "subscribers"),
        sa.PrimaryKeyConstraint("id", name="pk_recovered_orders"),
        sa.UniqueConstraint(
            "integration_id", "provider_order_id", name="uq_recovered_orders_order"
        ),
    )
    op.create_index("ix_recovered_orders_company_id", "recovered_orders", ["company_id"])
    op.create_index("ix_recovered_orders_sequence_id", "recovered_orders", ["sequence_id"])


def downgrade() -> None:
    op.drop_table("recovered_orders")
    op.drop_table("carts")
    op.drop_table("cart_activities")
