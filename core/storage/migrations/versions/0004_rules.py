"""rules engine: entry times and snapshots on enrollments, channels and tokens in the ledger

Revision ID: 0004_rules
Revises: 0003_sync
Create Date: 2026-11-27 21:18:52.154310
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storeflow.core.storage.tables

revision = "0004_rules"
down_revision = "0003_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "entry_occurred_at", storeflow.core.storage.tables.UTCDateTime(), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("subscriber_snapshot", sa.JSON(), server_default="{}", nullable=False)
        )

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=20), server_default="email", nullable=False)
        )
        batch_op.add_column(
            sa.Column("priority", sa.Integer(), server_default="50", nullable=False)
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("unsubscribe_token_hash", sa.String(length=64), nullable=True)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_messages_unsubscribe_token_hash"), ["unsubscribe_token_hash"]
        )

    with op.batch_alter_table("sequences", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deleted_at", storeflow.core.storage.tables.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("sequences", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_messages_unsubscribe_token_hash"), type_="unique")
        batch_op.drop_column("unsubscribe_token_hash")
        batch_op.drop_column("attempts")
        batch_op.drop_column("priority")
        batch_op.drop_column("channel")

    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_column("subscriber_snapshot")
        batch_op.drop_column("entry_occurred_at")
