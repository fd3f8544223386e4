"""The incident store: incidents, raw payloads, analysis results, tickets, report versions, audit log."""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from postmortem.model import (
    Analysis,
    AuditEntry,
    GateVerdict,
    Incident,
    PastIncident,
    QualityResult,
    Quarantined,
    ReportVersion,
    TimelineEvent,
)
from postmortem.settings import get_settings
from postmortem.store.audit import (
    GENESIS_HASH,
    AuditVerification,
    entry_hash,
    normalise_payload,
    verify_chain,
)
from postmortem.store.engine import alembic_config, dialect_insert, make_engine, normalise_url, sqlite_file
from postmortem.store.records import QualityRun, RawPayload, TicketInfo
from postmortem.store.rows import (
    audit_entry,
    change_rows,
    change_text,
    quality_rows,
    quality_run_row,
    report_version,
    signal_rows,
    ticket_info,
)
from postmortem.store.tables import (
    ActionRow,
    AuditRow,
    ChangeRow,
    EventRow,
    IncidentRow,
    QualityResultRow,
    QualityRunRow,
    QuarantineRow,
    RawPayloadRow,
    ReportVersionRow,
    SignalRow,
    TicketRow,
)

_UPGRADE_THREAD_LOCK = threading.Lock()
# Key of the PostgreSQL advisory lock that serialises concurrent `upgrade()` calls.
_MIGRATION_LOCK = 0x706D5F6D6967
# ensure_ticket retries when a concurrent caller took the same key or action in between.
_TICKET_ATTEMPTS = 20
_EVENT_COLUMNS = ("incident_id", "seq", "ts", "source", "kind", "service", "summary", "ref")


def _now() -> datetime:
    return datetime.now(UTC)


def _copy_events(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Bulk-load timeline rows through the driver: COPY on PostgreSQL, one executemany on SQLite."""
    if not rows:
        return
    conn = session.connection()
    ts_type = EventRow.__table__.c.ts.type.dialect_impl(conn.dialect)
    bind_ts = ts_type.bind_processor(conn.dialect)  # exactly what an ORM insert would send
    if bind_ts is not None:
        rows = [(*row[:2], bind_ts(row[2]), *row[3:]) for row in rows]
    columns = ", ".join(_EVENT_COLUMNS)
    if conn.dialect.name == "postgresql":
        with (
            conn.connection.driver_connection.cursor() as cursor,
            cursor.copy(f"COPY events ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" * len(_EVENT_COLUMNS))
        conn.exec_driver_sql(f"INSERT INTO events ({columns}) VALUES ({marks})", rows)


class Store:
    """Typed access to the incident store; migrations are applied when it opens (`auto_upgrade`)."""

    def __init__(self, url: str, *, auto_upgrade: bool = True) -> None:
        """Open the store at `url` (SQLite path or PostgreSQL URL) and bring its schema to head."""
        self.url = normalise_url(url)
        if (path := sqlite_file(self.url)) is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._engine = make_engine(self.url)
        self._reader = sessionmaker(self._engine, expire_on_commit=False)
        # write transactions take SQLite's write lock up front (BEGIN IMMEDIATE): no lock-upgrade deadlocks
        self._writer = sessionmaker(
            self._engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )
        if auto_upgrade:
            self.upgrade()

    # ------------------------------------------------------------ lifecycle and migrations

    def __enter__(self) -> Self:
        """Use the store as a context manager that closes it."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the store."""
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()

    def upgrade(self) -> str:
        """Apply pending migrations, serialised across threads and processes; returns the current revision."""
        # alembic's `context` is module-global: two threads of one process must not migrate at once
        with _UPGRADE_THREAD_LOCK, self._engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:  # batch migrations recreate tables: cascades must not fire meanwhile
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.execution_options(sqlite_begin="IMMEDIATE").begin():
                    if not sqlite:
                        conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
                    cfg = alembic_config()
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                    current = MigrationContext.configure(conn).get_current_revision()
            finally:
                if sqlite:
                    conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
        if current is None:
            raise RuntimeError("migrations ran but left no current revision")
        return current

    def current_revision(self) -> str | None:
        """The migration revision the database is at (None before the first upgrade)."""
        with self._engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # ------------------------------------------------------------ incidents and evidence

    def save_incident(self, incident: Incident) -> None:
        """Insert or update the incident record."""
        with self._writer.begin() as session:
            self._upsert_incident(session, incident, _now())

    def _upsert_incident(self, session: Session, incident: Incident, now: datetime) -> None:
        values = {
            "id": incident.id,
            "title": incident.title,
            "severity": incident.severity,
            "status": incident.status,
            "services": list(incident.services),
            **incident.milestones(),
            "data": incident.model_dump(mode="json"),
            "updated_at": now,
        }
        stmt = dialect_insert(session, IncidentRow).values(values)
        updates = {k: getattr(stmt.excluded, k) for k in values if k != "id"}
        session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=updates))

    def get_incident(self, incident_id: str) -> Incident | None:
        """The stored incident record, or None."""
        with self._reader() as session:
            data = session.scalar(select(IncidentRow.data).where(IncidentRow.id == incident_id))
        return Incident.model_validate(data) if data is not None else None

    def save_raw_payload(self, incident_id: str, source: str, uri: str, content: bytes) -> str:
        """Keep a raw payload (compressed) once per (incident, source, content); returns its sha256."""
        digest = hashlib.sha256(content).hexdigest()
        values = {
            "incident_id": incident_id,
            "source": source,
            "uri": uri,
            "sha256": digest,
            "size": len(content),
            "content": zlib.compress(content, 6),
            "fetched_at": _now(),
        }
        with self._writer.begin() as session:
            stmt = dialect_insert(session, RawPayloadRow).values(values)
            session.execute(stmt.on_conflict_do_nothing(index_elements=["incident_id", "source", "sha256"]))
        return digest

    def raw_payloads(self, incident_id: str, source: str | None = None) -> list[RawPayload]:
        """The incident's raw payloads, decompressed, in the order they were first saved."""
        query = select(RawPayloadRow).where(RawPayloadRow.incident_id == incident_id)
        if source is not None:
            query = query.where(RawPayloadRow.source == source)
        with self._reader() as session:
            rows = session.scalars(query.order_by(RawPayloadRow.id)).all()
        return [
            RawPayload(
                incident_id=r.incident_id,
                source=r.source,
                uri=r.uri,
                sha256=r.sha256,
                size=r.size,
                fetched_at=r.fetched_at,
                content=zlib.decompress(r.content),
            )
            for r in rows
        ]

    def save_quarantine(self, incident_id: str, items: Sequence[Quarantined]) -> None:
        """Replace the incident's quarantined records with `items`."""
        rows = [{"incident_id": incident_id, **q.model_dump(mode="json")} for q in items]
        with self._writer.begin() as session:
            session.execute(delete(QuarantineRow).where(QuarantineRow.incident_id == incident_id))
            if rows:
                session.execute(insert(QuarantineRow.__table__), rows)

    def quarantine(self, incident_id: str) -> list[Quarantined]:
        """The incident's quarantined records."""
        with self._reader() as session:
            rows = session.scalars(
                select(QuarantineRow)
                .where(QuarantineRow.incident_id == incident_id)
                .order_by(QuarantineRow.id)
            ).all()
        return [
            Quarantined(file=r.file, line=r.line, field=r.field, reason=r.reason, record=r.record)
            for r in rows
        ]

    # ------------------------------------------------------------ analysis results

    def save_analysis(self, analysis: Analysis) -> None:
        """Store an analysis in one transaction, replacing the incident's previous results."""
        iid = analysis.incident.id
        now = _now()
        events = [
            (iid, seq, e.ts, e.source, e.kind, e.service, e.summary, e.ref)
            for seq, e in enumerate(analysis.timeline)
        ]
        with self._writer.begin() as session:
            self._upsert_incident(session, analysis.incident, now)
            session.execute(delete(EventRow).where(EventRow.incident_id == iid))
            _copy_events(session, events)
            run_id = session.execute(
                insert(QualityRunRow).values(quality_run_row(iid, analysis, now)).returning(QualityRunRow.id)
            ).scalar_one()
            for table, rows in (
                (ChangeRow, change_rows(iid, analysis.root_cause)),
                (SignalRow, signal_rows(iid, analysis)),
                (QualityResultRow, quality_rows(iid, analysis, run_id)),
            ):
                session.execute(delete(table).where(table.incident_id == iid))
                if rows:
                    session.execute(insert(table.__table__), rows)
            self._replace_actions(session, iid, analysis.remediation, now)

    def _replace_actions(
        self, session: Session, iid: str, verdicts: Sequence[GateVerdict], now: datetime
    ) -> None:
        """Upsert the incident's actions by fingerprint (first verdict wins) and drop the ones now absent."""
        wanted: dict[str, GateVerdict] = {}
        for verdict in verdicts:
            wanted.setdefault(verdict.fingerprint, verdict)
        existing = {
            a.fingerprint: a for a in session.scalars(select(ActionRow).where(ActionRow.incident_id == iid))
        }
        for fingerprint, row in existing.items():
            if fingerprint not in wanted:
                session.delete(row)
        for rank, (fingerprint, verdict) in enumerate(wanted.items()):
            row = existing.get(fingerprint) or ActionRow(
                incident_id=iid, fingerprint=fingerprint, created_at=now
            )
            row.rank = rank
            row.title = verdict.title
            row.passed = verdict.passed
            row.reasons = list(verdict.reasons)
            row.data = verdict.model_dump(mode="json")
            row.updated_at = now
            session.add(row)

    def quality_results(self, incident_id: str) -> list[QualityResult]:
        """The data-quality results of the incident's latest run, in the order the checks ran."""
        with self._reader() as session:
            rows = session.scalars(
                select(QualityResultRow)
                .where(QualityResultRow.incident_id == incident_id)
                .order_by(QualityResultRow.id)
            ).all()
        return [
            QualityResult(
                source=r.source,
                check=r.check_name,
                success=r.success,
                unexpected_count=r.unexpected_count,
                severity=r.severity,
                details=r.details,
            )
            for r in rows
        ]

    def quality_runs(self, incident_id: str) -> list[QualityRun]:
        """Every data-quality run of the incident, oldest first, with its review verdict."""
        with self._reader() as session:
            query = select(QualityRunRow).where(QualityRunRow.incident_id == incident_id)
            rows = session.scalars(query.order_by(QualityRunRow.id)).all()
            return [QualityRun.model_validate(r, from_attributes=True) for r in rows]

    def timeline(self, incident_id: str) -> list[TimelineEvent]:
        """The stored timeline of an incident, in order."""
        cols = (EventRow.ts, EventRow.source, EventRow.kind, EventRow.service, EventRow.summary, EventRow.ref)
        with self._reader() as session:
            result = session.execute(
                select(*cols).where(EventRow.incident_id == incident_id).order_by(EventRow.seq)
            )
            return [TimelineEvent.model_validate(dict(r._mapping)) for r in result]

    def actions(self, incident_id: str) -> list[GateVerdict]:
        """The incident's stored action verdicts, in remediation order."""
        with self._reader() as session:
            data = session.scalars(
                select(ActionRow.data).where(ActionRow.incident_id == incident_id).order_by(ActionRow.rank)
            ).all()
        return [GateVerdict.model_validate(d) for d in data]

    # ------------------------------------------------------------ local ticket tracker

    def ensure_ticket(
        self, incident_id: str, verdict: GateVerdict, prefix: str = "PM"
    ) -> tuple[TicketInfo, bool]:
        """The ticket of (incident, action fingerprint), created as PREFIX-N if absent; bool = created now."""
        last_error: IntegrityError | None = None
        for _ in range(_TICKET_ATTEMPTS):
            try:
                with self._writer.begin() as session:
                    row = session.scalars(
                        select(TicketRow).where(
                            TicketRow.incident_id == incident_id, TicketRow.fingerprint == verdict.fingerprint
                        )
                    ).one_or_none()
                    if row is not None:
                        return ticket_info(row), False
                    top = session.scalar(select(func.max(TicketRow.number)).where(TicketRow.prefix == prefix))
                    number = (top or 0) + 1
                    now = _now()
                    row = TicketRow(
                        key=f"{prefix}-{number}",
                        prefix=prefix,
                        number=number,
                        incident_id=incident_id,
                        fingerprint=verdict.fingerprint,
                        title=verdict.title,
                        status="open",
                        url=None,
                        created_at=now,
                        updated_at=now,
                    )
                    session.add(row)
                    session.flush()
                return ticket_info(row), True
            except IntegrityError as exc:  # a concurrent caller took this key or this action: look again
                last_error = exc
        raise RuntimeError(
            f"could not create a ticket for {incident_id}/{verdict.fingerprint} "
            f"after {_TICKET_ATTEMPTS} attempts"
        ) from last_error

    def list_tickets(self, incident_id: str | None = None) -> list[TicketInfo]:
        """Tickets of one incident (or all), oldest first."""
        query = select(TicketRow).order_by(TicketRow.id)
        if incident_id is not None:
            query = query.where(TicketRow.incident_id == incident_id)
        with self._reader() as session:
            return [ticket_info(r) for r in session.scalars(query)]

    def set_ticket_status(self, key: str, status: str) -> TicketInfo:
        """Record a ticket's new status; KeyError if the key is unknown."""
        with self._writer.begin() as session:
            row = session.scalars(select(TicketRow).where(TicketRow.key == key)).one_or_none()
            if row is None:
                raise KeyError(f"no ticket {key}")
            row.status = status
            row.updated_at = _now()
            return ticket_info(row)

    # ------------------------------------------------------------ report versions

    def latest_report_version(self, incident_id: str) -> ReportVersion | None:
        """The highest report version of an incident, or None."""
        with self._reader() as session:
            row = session.scalars(
                select(ReportVersionRow)
                .where(ReportVersionRow.incident_id == incident_id)
                .order_by(ReportVersionRow.version.desc())
                .limit(1)
            ).one_or_none()
        return report_version(row) if row is not None else None

    def report_versions(self, incident_id: str) -> list[ReportVersion]:
        """All report versions of an incident, oldest first."""
        with self._reader() as session:
            rows = session.scalars(
                select(ReportVersionRow)
                .where(ReportVersionRow.incident_id == incident_id)
                .order_by(ReportVersionRow.version)
            )
            return [report_version(r) for r in rows]

    def add_report_version(self, rv: ReportVersion) -> None:
        """Record a new report version; ValueError if that version number already exists."""
        try:
            with self._writer.begin() as session:
                session.add(ReportVersionRow(**rv.model_dump()))
        except IntegrityError as exc:
            raise ValueError(f"report version {rv.version} of {rv.incident_id} already exists") from exc

    # ------------------------------------------------------------ similarity memory

    def past_incidents(self, exclude_id: str | None = None, limit: int = 500) -> list[PastIncident]:
        """The most recent stored incidents with their root cause, resolution, log templates and signals."""
        query = select(IncidentRow.id, IncidentRow.data).order_by(
            IncidentRow.started_at.desc().nulls_last(), IncidentRow.id
        )
        if exclude_id is not None:
            query = query.where(IncidentRow.id != exclude_id)
        with self._reader() as session:
            incidents = session.execute(query.limit(limit)).all()
            ids = [i.id for i in incidents]
            top_changes = {
                r.incident_id: r
                for r in session.scalars(
                    select(ChangeRow).where(
                        ChangeRow.incident_id.in_(ids), ~ChangeRow.rejected, ChangeRow.rank == 0
                    )
                )
            }
            top_services: dict[str, str] = {}
            templates: dict[str, list[str]] = {}
            signals: dict[str, list[str]] = {}
            for iid, kind, ref in session.execute(
                select(SignalRow.incident_id, SignalRow.kind, SignalRow.ref)
                .where(
                    SignalRow.incident_id.in_(ids), SignalRow.kind.in_(("service", "log_pattern", "metric"))
                )
                .order_by(SignalRow.incident_id, SignalRow.kind, SignalRow.rank)
            ):
                if kind == "service":
                    top_services.setdefault(iid, f"service {ref}")
                elif kind == "metric":
                    signals.setdefault(iid, []).append(ref)
                else:
                    templates.setdefault(iid, []).append(ref)
            top_actions: dict[str, str] = {}
            for iid, title in session.execute(
                select(ActionRow.incident_id, ActionRow.title)
                .where(ActionRow.incident_id.in_(ids), ActionRow.passed)
                .order_by(ActionRow.incident_id, ActionRow.rank)
            ):
                top_actions.setdefault(iid, title)
        past = []
        for iid, data in incidents:
            change = top_changes.get(iid)
            resolution = data.get("resolution")
            past.append(
                PastIncident(
                    id=iid,
                    title=data.get("title") or "",
                    summary=data.get("summary") or "",
                    services=data.get("services") or [],
                    root_cause=change_text(change) if change is not None else top_services.get(iid),
                    resolution=str(resolution) if resolution else top_actions.get(iid),
                    templates=templates.get(iid, []),
                    signals=signals.get(iid, []),
                )
            )
        return past

    # ------------------------------------------------------------ audit log (append-only)

    def append_audit(self, actor: str, action: str, subject: str, payload: dict[str, Any]) -> AuditEntry:
        """Append one entry to the hash-chained audit log (appends are serialised across processes)."""
        body = normalise_payload(payload)
        with self._writer.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("LOCK TABLE audit_log IN EXCLUSIVE MODE"))
            last = session.execute(
                select(AuditRow.seq, AuditRow.ts, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
            ).one_or_none()
            seq = last.seq + 1 if last else 1
            prev_hash = last.hash if last else GENESIS_HASH
            ts = max(_now(), last.ts) if last else _now()  # never behind the previous entry
            digest = entry_hash(seq, ts, actor, action, subject, body, prev_hash)
            row = AuditRow(
                seq=seq,
                ts=ts,
                actor=actor,
                action=action,
                subject=subject,
                payload=body,
                prev_hash=prev_hash,
                hash=digest,
            )
            session.add(row)
        return audit_entry(row)

    def audit_entries(self, subject: str | None = None) -> list[AuditEntry]:
        """Audit entries in chain order, optionally only those about `subject`."""
        query = select(AuditRow).order_by(AuditRow.seq)
        if subject is not None:
            query = query.where(AuditRow.subject == subject)
        with self._reader() as session:
            return [audit_entry(r) for r in session.scalars(query)]

    def verify_audit_log(self) -> AuditVerification:
        """Recompute the whole chain and name every changed, missing or reordered entry."""
        return verify_chain(self.audit_entries())


def open_store(url: str | None = None) -> Store:
    """Open the store at `url`, or at the configured one (an SQLite file in the data directory)."""
    return Store(url if url is not None else get_settings().db_url)
