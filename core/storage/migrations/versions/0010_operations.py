"""operations: users.session_version (page sessions end on sign-out and password change);
indexes for the retention sweep and /metrics

Revision ID: 0010_operations
Revises: 0009_suppressions
Create Date: 2026-12-01 12:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_operations"
down_revision = "0009_suppressions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _operations_upgrade()
    # --- hardening ---
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), server_default="0", nullable=False)
        )


# --- operations: indexes for the retention sweep and /metrics -------------------------
_OPERATIONS_INDEXES = (
    ("ix_inbound_deliveries_received_at", "inbound_deliveries", "received_at"),
    ("ix_plugin_requests_created_at", "plugin_requests", "created_at"),
    ("ix_events_created_at", "events", "created_at"),
    ("ix_messages_created_at", "messages", "created_at"),
    ("ix_enrollments_entry_event_id", "enrollments", "entry_event_id"),
)


def _operations_upgrade() -> None:
    for name, table, column in _OPERATIONS_INDEXES:
        op.create_index(name, table, [column])


def _operations_downgrade() -> None:
    for name, table, _ in reversed(_OPERATIONS_INDEXES):
        op.drop_index(name, table_name=table)


# --- end operations -------------------------------------------------------------------


def downgrade() -> None:
    _operations_downgrade()
    # --- hardening ---
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_version")
