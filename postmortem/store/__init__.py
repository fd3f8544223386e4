"""The incident store: SQLAlchemy 2 tables, alembic migrations and the hash-chained audit log."""

from postmortem.store.audit import AuditVerification
from postmortem.store.engine import head_revision
from postmortem.store.records import RawPayload, TicketInfo
from postmortem.store.store import Store, open_store

__all__ = ["AuditVerification", "RawPayload", "Store", "TicketInfo", "head_revision", "open_store"]
