"""store data sync: sync_runs, freshness fingerprints, deletion times, awaiting payment

Revision ID: 0003_sync
Revises: 0002_connections
Create Date: 2026-11-27 21:02:36.891604
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storeflow.core.storage.tables

revision = "0003_sync"
down_revision = "0002_connections"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sync_runs",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("company_id", BigId, nullable=False),
        sa.Column("integration_id", sa.String(length=40), nullable=False),
        sa.Column("sync_run_id", sa.String(length=100), nullable=False),
        sa.Column("resource", sa.String(length=20), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("last_page", sa.Integer(), nullable=True),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("upserted", sa.Integer(), nullable=False),
        sa.Column("skipped_stale", sa.Integer(), nullable=False),
        sa.Column("ignored", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("started_at", storeflow.core.storage.tables.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storeflow.core.storage.tables.UTCDateTime(), nullable=False),
        sa.Column("finished_at", storeflow.core.storage.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_sync_runs_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_sync_runs_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
        sa.UniqueConstraint(
            "integration_id",
            "sync_run_id",
            "resource",
            name=op.f("uq_sync_runs_integration_id_sync_run_id_resource"),
        ),
    )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_runs_company_id"), ["company_id"], unique=False)

    # Existing rows get the defaults the models give new ones.
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("awaiting_payment", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("source_hash", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("deleted_at", storeflow.core.storage.tables.UTCDateTime(), nullable=True)
        )

    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_hash", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("deleted_at", storeflow.core.storage.tables.UTCDateTime(), nullable=True)
        )

    with op.batch_alter_table("store_customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_hash", sa.String(length=32), nullable=True))

    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_hash", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("deleted_at", storeflow.core.storage.tables.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("deleted")
        batch_op.drop_column("source_hash")

    with op.batch_alter_table("store_customers", schema=None) as batch_op:
        batch_op.drop_column("source_hash")

    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("source_hash")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("source_hash")
        batch_op.drop_column("awaiting_payment")

    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_runs_company_id"))

    op.drop_table("sync_runs")
