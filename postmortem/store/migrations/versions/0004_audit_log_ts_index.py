"""Index the audit log by time: the monthly audit reads one month, not the whole log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create `ix_audit_log_ts`."""
    op.create_index("ix_audit_log_ts", "audit_log", ["ts"])


def downgrade() -> None:
    """Drop `ix_audit_log_ts`."""
    op.drop_index("ix_audit_log_ts", table_name="audit_log")
