"""jobs: partial indexes that cover only pending, running and finished work

Revision ID: 0005_pending_job_indexes
Revises: 0004_rules
Create Date: 2026-12-01 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_pending_job_indexes"
down_revision = "0004_rules"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")
RUNNING = sa.text("status = 'running'")
DONE = sa.text("status = 'done'")


def upgrade() -> None:
    op.drop_index("ix_jobs_status_available_at", table_name="jobs")
    # The claim reads due pending jobs in due order; the sweeper reads expired leases
    # and prunes finished jobs: each index holds only the rows its query can return.
    op.create_index(
        "ix_jobs_pending_due",
        "jobs",
        ["available_at", "id"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.create_index(
        "ix_jobs_running_lease",
        "jobs",
        ["lease_until"],
        postgresql_where=RUNNING,
        sqlite_where=RUNNING,
    )
    op.create_index(
        "ix_jobs_done_at", "jobs", ["done_at"], postgresql_where=DONE, sqlite_where=DONE
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_done_at", table_name="jobs")
    op.drop_index("ix_jobs_running_lease", table_name="jobs")
    op.drop_index("ix_jobs_pending_due", table_name="jobs")
    op.create_index("ix_jobs_status_available_at", "jobs", ["status", "available_at"])
