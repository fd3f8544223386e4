"""Initial schema: incidents, evidence, analysis results, tickets, report versions, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
UTC_TS = sa.DateTime(timezone=True)

_SQLITE_APPEND_ONLY = [
    f"CREATE TRIGGER audit_log_no_{verb} BEFORE {verb.upper()} ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
    for verb in ("update", "delete")
]
_PG_APPEND_ONLY = [
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
]


def _incident_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["incident_id"], ["incidents.id"], name=f"fk_{table}_incident_id_incidents", ondelete="CASCADE"
    )


def upgrade() -> None:
    """Create every table, index and the audit log's append-only triggers."""
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("services", JSON_DOC, nullable=False),
        sa.Column("started_at", UTC_TS, nullable=True),
        sa.Column("detected_at", UTC_TS, nullable=True),
        sa.Column("acknowledged_at", UTC_TS, nullable=True),
        sa.Column("mitigated_at", UTC_TS, nullable=True),
        sa.Column("resolved_at", UTC_TS, nullable=True),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_started_at", "incidents", ["started_at"])

    op.create_table(
        "raw_payloads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(200), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("fetched_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_raw_payloads"),
        sa.UniqueConstraint(
            "incident_id", "source", "sha256", name="uq_raw_payloads_incident_id_source_sha256"
        ),
    )
    op.create_index("ix_raw_payloads_incident_id", "raw_payloads", ["incident_id"])

    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(200), nullable=False),
        sa.Column("file", sa.String(200), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("record", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quarantine"),
    )
    op.create_index("ix_quarantine_incident_id", "quarantine", ["incident_id"])

    op.create_table(
        "events",
        sa.Column("incident_id", sa.String(200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("ts", UTC_TS, nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("service", sa.String(200), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("ref", sa.Text(), nullable=True),
        _incident_fk("events"),
        sa.PrimaryKeyConstraint("incident_id", "seq", name="pk_events"),
    )

    op.create_table(
        "changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(200), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("service", sa.String(200), nullable=True),
        sa.Column("ts", UTC_TS, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("confidence", sa.String(10), nullable=True),
        sa.Column("role", sa.String(20), nullable=True),
        sa.Column("rejected", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("evidence", JSON_DOC, nullable=False),
        sa.Column("features", JSON_DOC, nullable=False),
        _incident_fk("changes"),
        sa.PrimaryKeyConstraint("id", name="pk_changes"),
    )
    op.create_index("ix_changes_incident_id_rank", "changes", ["incident_id", "rank"])

    op.create_table(
        "signals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        _incident_fk("signals"),
        sa.PrimaryKeyConstraint("id", name="pk_signals"),
    )
    op.create_index("ix_signals_incident_id_kind_rank", "signals", ["incident_id", "kind", "rank"])

    op.create_table(
        "quality_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(200), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("check_name", sa.String(200), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("unexpected_count", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("details", JSON_DOC, nullable=False),
        _incident_fk("quality_results"),
        sa.PrimaryKeyConstraint("id", name="pk_quality_results"),
    )
    op.create_index("ix_quality_results_incident_id", "quality_results", ["incident_id"])

    op.create_table(
        "actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("reasons", JSON_DOC, nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("updated_at", UTC_TS, nullable=False),
        _incident_fk("actions"),
        sa.PrimaryKeyConstraint("id", name="pk_actions"),
        sa.UniqueConstraint("incident_id", "fingerprint", name="uq_actions_incident_id_fingerprint"),
    )

    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(50), nullable=False),
        sa.Column("prefix", sa.String(40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
        sa.UniqueConstraint("incident_id", "fingerprint", name="uq_tickets_incident_id_fingerprint"),
        sa.UniqueConstraint("key", name="uq_tickets_key"),
        sa.UniqueConstraint("prefix", "number", name="uq_tickets_prefix_number"),
    )

    op.create_table(
        "report_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("parent_hash", sa.String(64), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_versions"),
        sa.UniqueConstraint("incident_id", "version", name="uq_report_versions_incident_id_version"),
    )

    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ts", UTC_TS, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
        sa.UniqueConstraint("hash", name="uq_audit_log_hash"),
    )
    op.create_index("ix_audit_log_subject", "audit_log", ["subject"])
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _PG_APPEND_ONLY if postgres else _SQLITE_APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    """Drop everything `upgrade` created."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_log_append_only() CASCADE")
    for table in (
        "audit_log",
        "report_versions",
        "tickets",
        "actions",
        "quality_results",
        "signals",
        "changes",
        "events",
        "quarantine",
        "raw_payloads",
        "incidents",
    ):
        op.drop_table(table)
