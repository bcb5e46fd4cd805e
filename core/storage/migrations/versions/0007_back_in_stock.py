"""back_in_stock: waitlist entries and the restocks that notify them

Revision ID: 0007_back_in_stock
Revises: 0006_replenishment
Create Date: 2026-12-01 12:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_back_in_stock"
down_revision = "0006_replenishment"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "waitlist_entries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("company_id", BigId, nullable=False),
        sa.Column("integration_id", sa.String(40), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("provider_product_id", sa.String(64), nullable=False),
        sa.Column("provider_variant_id", sa.String(64), nullable=False),
        sa.Column("subscriber_id", BigId, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("product_title", sa.String(500), nullable=False),
        sa.Column("variant_title", sa.String(500), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("notified_at", sa.DateTime(), nullable=True),
        sa.Column("restock_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name="fk_waitlist_entries_company_id_companies",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="fk_waitlist_entries_integration_id_integrations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name="fk_waitlist_entries_subscriber_id_subscribers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_waitlist_entries"),
        sa.UniqueConstraint(
            "integration_id",
            "provider_variant_id",
            "subscriber_id",
            name="uq_waitlist_entries_member",
        ),
    )
    op.create_index("ix_waitlist_entries_company_id", "waitlist_entries", ["company_id"])
    op.create_index("ix_waitlist_entries_subscriber_id", "waitlist_entries", ["subscriber_id"])
    op.create_index("ix_waitlist_entries_restock_id", "waitlist_entries", ["restock_id"])
    op.create_index(
        "ix_waitlist_entries_variant_status",
        "waitlist_entries",
        ["integration_id", "provider_variant_id", "status", "requested_at"],
    )
    op.create_table(
        "waitlist_restocks",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("company_id", BigId, nullable=False),
        sa.Column("integration_id", sa.String(40), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("provider_product_id", sa.String(64), nullable=False),
        sa.Column("provider_variant_id", sa.String(64), nullable=False),
        sa.Column("open_key", sa.String(8), nullable=True),
        sa.Column("stock_quantity", sa.Integer(), nullable=True),
        sa.Column("budget", sa.Integer(), nullable=True),
        sa.Column("notified", sa.Integer(), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name="fk_waitlist_restocks_company_id_companies",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="fk_waitlist_restocks_integration_id_integrations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_waitlist_restocks"),
        sa.UniqueConstraint(
            "integration_id",
            "provider_variant_id",
            "open_key",
            name="uq_waitlist_restocks_open",
        ),
    )
    op.create_index("ix_waitlist_restocks_company_id", "waitlist_restocks", ["company_id"])


def downgrade() -> None:
    op.drop_index("ix_waitlist_restocks_company_id", table_name="waitlist_restocks")
    op.drop_table("waitlist_restocks")
    op.drop_index("ix_waitlist_entries_variant_status", table_name="waitlist_entries")
    op.drop_index("ix_waitlist_entries_restock_id", table_name="waitlist_entries")
    op.drop_index("ix_waitlist_entries_subscriber_id", table_name="waitlist_entries")
    op.drop_index("ix_waitlist_entries_company_id", table_name="waitlist_entries")
    op.drop_table("waitlist_entries")
