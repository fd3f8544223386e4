"""Quality runs: per-run data-quality totals and the human-review verdict; results point at their run.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create `quality_runs` and add `quality_results.run_id`."""
    op.create_table(
        "quality_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(200), nullable=False),
        sa.Column("run_at", UTC_TS, nullable=False),
        sa.Column("checks_total", sa.Integer(), nullable=False),
        sa.Column("checks_failed", sa.Integer(), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("review_reasons", JSON_DOC, nullable=False),
        sa.Column("failures", JSON_DOC, nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_quality_runs_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_quality_runs"),
    )
    op.create_index("ix_quality_runs_incident_id", "quality_runs", ["incident_id"])
    with op.batch_alter_table("quality_results") as batch:
        batch.add_column(sa.Column("run_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_quality_results_run_id_quality_runs", "quality_runs", ["run_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_quality_results_run_id", ["run_id"])


def downgrade() -> None:
    """Drop `quality_results.run_id` and `quality_runs`."""
    with op.batch_alter_table("quality_results") as batch:
        batch.drop_index("ix_quality_results_run_id")
        batch.drop_constraint("fk_quality_results_run_id_quality_runs", type_="foreignkey")
        batch.drop_column("run_id")
    op.drop_table("quality_runs")
