"""The store's append-only audit log: appending, reading and verifying entries (hashing in `audit`)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select, text

from postmortem.model import AuditEntry
from postmortem.store.audit import (
    GENESIS_HASH,
    AuditVerification,
    entry_hash,
    normalise_payload,
    verify_chain,
)
from postmortem.store.rows import audit_entry
from postmortem.store.sessions import StoreSessions, utc_now
from postmortem.store.tables import AuditRow


class AuditLogMixin(StoreSessions):
    """The hash-chained audit log, appended under a lock and verified end to end."""

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
            ts = max(utc_now(), last.ts) if last else utc_now()  # never behind the previous entry
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

    def audit_entries(
        self,
        subject: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actions: Collection[str] | None = None,
    ) -> list[AuditEntry]:
        """Audit entries in chain order, optionally only about `subject`, stamped in [`since`, `until`),
        with one of `actions` (filtered in SQL: the monthly audit reads one month, not the whole log)."""
        query = select(AuditRow).order_by(AuditRow.seq)
        if subject is not None:
            query = query.where(AuditRow.subject == subject)
        if since is not None:
            query = query.where(AuditRow.ts >= since)
        if until is not None:
            query = query.where(AuditRow.ts < until)
        if actions is not None:
            query = query.where(AuditRow.action.in_(list(actions)))
        with self._reader() as session:
            return [audit_entry(r) for r in session.scalars(query)]

    def verify_audit_log(self) -> AuditVerification:
        """Recompute the whole chain and name every changed, missing or reordered entry."""
        return verify_chain(self.audit_entries())
