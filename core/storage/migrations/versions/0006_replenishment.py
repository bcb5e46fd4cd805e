"""replenishment: placeholder in the chain; filled in by the change that needs it

Revision ID: 0006_replenishment
Revises: 0005_pending_job_indexes
Create Date: 2026-12-01 12:20:00
"""

from __future__ import annotations

revision = "0006_replenishment"
down_revision = "0005_pending_job_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
