"""replenishment: per-product reminder settings and the reminders scheduled from orders

Revision ID: 0006_replenishment
Revises: 0005_pending_job_indexes
Create Date: 2026-12-01 12:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storeflow.core.storage.tables

revision = "0006_replenishment"
down_revision = "0005_pending_job_indexes"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")
UTC = storeflow.core.storage.tables.UTCDateTime
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "replenishment_settings",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("company_id", BIG_ID, nullable=False),
        sa.Column("product_id", BIG_ID, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("match", sa.String(length=10), nullable=False),
        sa.Column("multiply_by_quantity", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_replenishment_settings_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_replenishment_settings_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replenishment_settings")),
        sa.UniqueConstraint("product_id", name=op.f("uq_replenishment_settings_product_id")),
    )
    op.create_index(
        op.f("ix_replenishment_settings_company_id"), "replenishment_settings", ["company_id"]
    )
    op.create_table(
        "replenishment_reminders",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("company_id", BIG_ID, nullable=False),
        sa.Column("integration_id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("subscriber_id", BIG_ID, nullable=False),
        sa.Column("product_id", BIG_ID, nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("match", sa.String(length=10), nullable=False),
        sa.Column("provider_product_id", sa.String(length=64), nullable=False),
        sa.Column("provider_variant_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("variant_title", sa.String(length=500), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("provider_order_id", sa.String(length=64), nullable=False),
        sa.Column("order_event_id", sa.BigInteger(), nullable=False),
        sa.Column("ordered_at", UTC(), nullable=False),
        sa.Column("due_at", UTC(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("fired_event_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_replenishment_reminders_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_replenishment_reminders_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_replenishment_reminders_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_replenishment_reminders_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replenishment_reminders")),
        sa.UniqueConstraint(
            "order_event_id", "key", name=op.f("uq_replenishment_reminders_order_event_id_key")
        ),
    )
    table = "replenishment_reminders"
    op.create_index(op.f("ix_replenishment_reminders_company_id"), table, ["company_id"])
    op.create_index(
        "ix_replenishment_reminders_one_pending",
        table,
        ["integration_id", "subscriber_id", "key"],
        unique=True,
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.create_index(
        "ix_replenishment_reminders_pending_due",
        table,
        ["due_at", "id"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.create_index(
        "ix_replenishment_reminders_order", table, ["integration_id", "provider_order_id"]
    )
    op.create_index("ix_replenishment_reminders_product_status", table, ["product_id", "status"])
    op.create_index(
        "ix_replenishment_reminders_subscriber_status", table, ["subscriber_id", "status"]
    )


def downgrade() -> None:
    op.drop_table("replenishment_reminders")
    op.drop_table("replenishment_settings")
