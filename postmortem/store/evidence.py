"""The store's incidents and evidence: incident records, raw payloads, quarantined records."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from postmortem.model import Incident, Quarantined
from postmortem.store.engine import dialect_insert
from postmortem.store.records import RawPayload
from postmortem.store.sessions import StoreSessions, utc_now
from postmortem.store.tables import IncidentRow, QuarantineRow, RawPayloadRow


def upsert_incident(session: Session, incident: Incident, now: datetime) -> None:
    """Insert or update the incident row within `session`'s transaction."""
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


class EvidenceMixin(StoreSessions):
    """Incident records, raw payloads (compressed, deduplicated) and quarantined records."""

    def save_incident(self, incident: Incident) -> None:
        """Insert or update the incident record."""
        with self._writer.begin() as session:
            upsert_incident(session, incident, utc_now())

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
            "fetched_at": utc_now(),
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
