"""The store's analysis results: saving an analysis in one transaction, reading its timeline and actions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from postmortem.model import Analysis, GateVerdict, TimelineEvent
from postmortem.store.evidence import upsert_incident
from postmortem.store.rows import change_rows, quality_rows, quality_run_row, signal_rows
from postmortem.store.sessions import StoreSessions, utc_now
from postmortem.store.tables import ActionRow, ChangeRow, EventRow, QualityResultRow, QualityRunRow, SignalRow

_EVENT_COLUMNS = ("incident_id", "seq", "ts", "source", "kind", "service", "summary", "ref")


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


def _replace_actions(session: Session, iid: str, verdicts: Sequence[GateVerdict], now: datetime) -> None:
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
        row = existing.get(fingerprint) or ActionRow(incident_id=iid, fingerprint=fingerprint, created_at=now)
        row.rank = rank
        row.title = verdict.title
        row.passed = verdict.passed
        row.reasons = list(verdict.reasons)
        row.data = verdict.model_dump(mode="json")
        row.updated_at = now
        session.add(row)


class AnalysisMixin(StoreSessions):
    """Analysis results: incident, timeline, changes, signals, a quality run and the remediation actions."""

    def save_analysis(self, analysis: Analysis) -> None:
        """Store an analysis in one transaction, replacing the incident's previous results."""
        iid = analysis.incident.id
        now = utc_now()
        events = [
            (iid, seq, e.ts, e.source, e.kind, e.service, e.summary, e.ref)
            for seq, e in enumerate(analysis.timeline)
        ]
        with self._writer.begin() as session:
            upsert_incident(session, analysis.incident, now)
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
            _replace_actions(session, iid, analysis.remediation, now)

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

    def actions_of(self, incident_ids: Sequence[str]) -> dict[str, list[GateVerdict]]:
        """Stored action verdicts of several incidents in one query, each in remediation order."""
        verdicts: dict[str, list[GateVerdict]] = {iid: [] for iid in incident_ids}
        with self._reader() as session:
            rows = session.execute(
                select(ActionRow.incident_id, ActionRow.data)
                .where(ActionRow.incident_id.in_(list(verdicts)))
                .order_by(ActionRow.incident_id, ActionRow.rank)
            ).all()
        for incident_id, data in rows:
            verdicts[incident_id].append(GateVerdict.model_validate(data))
        return verdicts
