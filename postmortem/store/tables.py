"""ORM tables of the incident store (the migrations in `migrations/versions` create them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Documents: JSONB on PostgreSQL (indexable), JSON text elsewhere.
JSONDoc = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC (SQLite keeps it as naive UTC text, which sorts chronologically)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the backend gave back."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with constraint names that batch migrations on SQLite can address."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONDoc,
        list[Any]: JSONDoc,
    }


class IncidentRow(Base):
    """One incident, its milestones and the full incident document."""

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(32))
    services: Mapped[list[Any]]
    started_at: Mapped[datetime | None] = mapped_column(index=True)
    detected_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    mitigated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class RawPayloadRow(Base):
    """A raw evidence payload as fetched (zlib-compressed), kept so reports can be re-rendered."""

    __tablename__ = "raw_payloads"
    __table_args__ = (UniqueConstraint("incident_id", "source", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(String(100))
    uri: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    fetched_at: Mapped[datetime]


class QuarantineRow(Base):
    """An evidence record set aside with its reason."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(200), index=True)
    file: Mapped[str] = mapped_column(String(200))
    line: Mapped[int | None] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    record: Mapped[dict[str, Any]]


class EventRow(Base):
    """One entry of an incident's machine timeline, in timeline order (`seq`)."""

    __tablename__ = "events"

    incident_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(100))
    service: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    ref: Mapped[str | None] = mapped_column(Text)


class ChangeRow(Base):
    """A change scored against the onset; `rejected` rows carry the reason instead of a role."""

    __tablename__ = "changes"
    __table_args__ = (Index(None, "incident_id", "rank"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(200), ForeignKey("incidents.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)
    change_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(50))
    service: Mapped[str | None] = mapped_column(String(200))
    ts: Mapped[datetime]
    score: Mapped[float] = mapped_column(Float)
    confidence: Mapped[str | None] = mapped_column(String(10))
    role: Mapped[str | None] = mapped_column(String(20))
    rejected: Mapped[bool]
    reason: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[list[Any]]
    features: Mapped[dict[str, Any]]


class SignalRow(Base):
    """A ranked root-cause signal: service, metric, log_pattern or similar_incident."""

    __tablename__ = "signals"
    __table_args__ = (Index(None, "incident_id", "kind", "rank"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(200), ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(50))
    rank: Mapped[int] = mapped_column(Integer)
    ref: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]]


class QualityRunRow(Base):
    """One data-quality run of an incident (kept per run): totals and the human-review verdict."""

    __tablename__ = "quality_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    run_at: Mapped[datetime]
    checks_total: Mapped[int] = mapped_column(Integer)
    checks_failed: Mapped[int] = mapped_column(Integer)
    needs_review: Mapped[bool]
    review_reasons: Mapped[list[Any]]
    failures: Mapped[list[Any]]
    quarantined: Mapped[int] = mapped_column(Integer)


class QualityResultRow(Base):
    """Outcome of one data-quality check on one dataset, in the incident's latest run."""

    __tablename__ = "quality_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("quality_runs.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(100))
    check_name: Mapped[str] = mapped_column(String(200))
    success: Mapped[bool]
    unexpected_count: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(10))
    details: Mapped[dict[str, Any]]


class ActionRow(Base):
    """A remediation action and its quality-gate verdict, keyed by fingerprint within the incident."""

    __tablename__ = "actions"
    __table_args__ = (UniqueConstraint("incident_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(200), ForeignKey("incidents.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    passed: Mapped[bool]
    reasons: Mapped[list[Any]]
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TicketRow(Base):
    """A ticket of the local tracker: one per (incident, action fingerprint), key PREFIX-N."""

    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("incident_id", "fingerprint"), UniqueConstraint("prefix", "number"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(50), unique=True)
    prefix: Mapped[str] = mapped_column(String(40))
    number: Mapped[int] = mapped_column(Integer)
    incident_id: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ReportVersionRow(Base):
    """One rendered version of an incident's reports, chained to its parent by content hash."""

    __tablename__ = "report_versions"
    __table_args__ = (UniqueConstraint("incident_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    parent_hash: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class AuditRow(Base):
    """An append-only, hash-chained audit log entry (payload kept as JSON text, hashed canonically)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(400), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class WebhookDeliveryRow(Base):
    """An accepted incident webhook, kept until its `incident.closed` event is confirmed by Prefect."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("source", "delivery_id"),
        Index(None, "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(40))
    delivery_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(200))
    incident_source: Mapped[str] = mapped_column(String(40))
    incident_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    emitted_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
