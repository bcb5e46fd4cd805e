"""operations: placeholder in the chain; filled in by the change that needs it

Revision ID: 0010_operations
Revises: 0009_suppressions
Create Date: 2026-12-01 12:20:00
"""

from __future__ import annotations

revision = "0010_operations"
down_revision = "0009_suppressions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
