"""Webhook deliveries: accepted incident webhooks, kept until their Prefect event is confirmed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create `webhook_deliveries`: one row per (source, delivery id), the dispatcher's queue."""
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("delivery_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("incident_source", sa.String(40), nullable=False),
        sa.Column("incident_id", sa.String(200), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("received_at", UTC_TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_TS, nullable=False),
        sa.Column("emitted_at", UTC_TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("event_id", name="uq_webhook_deliveries_event_id"),
        sa.UniqueConstraint("source", "delivery_id", name="uq_webhook_deliveries_source_delivery_id"),
    )
    op.create_index(
        "ix_webhook_deliveries_status_next_attempt_at", "webhook_deliveries", ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    """Drop `webhook_deliveries`."""
    op.drop_table("webhook_deliveries")
