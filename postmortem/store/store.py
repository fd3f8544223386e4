"""The incident store: opening, closing and migrating it; its method groups live in sibling mixins."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from postmortem.settings import get_settings
from postmortem.store.analysis import AnalysisMixin
from postmortem.store.audit_log import AuditLogMixin
from postmortem.store.engine import alembic_config, make_engine, normalise_url, sqlite_file
from postmortem.store.evidence import EvidenceMixin
from postmortem.store.quality import QualityMixin
from postmortem.store.reports import ReportsMixin
from postmortem.store.similarity import SimilarityMixin
from postmortem.store.tickets import TicketsMixin

_UPGRADE_THREAD_LOCK = threading.Lock()
# Key of the PostgreSQL advisory lock that serialises concurrent `upgrade()` calls.
_MIGRATION_LOCK = 0x706D5F6D6967


class Store(
    EvidenceMixin,
    AnalysisMixin,
    QualityMixin,
    TicketsMixin,
    ReportsMixin,
    SimilarityMixin,
    AuditLogMixin,
):
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


def open_store(url: str | None = None) -> Store:
    """Open the store at `url`, or at the configured one (an SQLite file in the data directory)."""
    return Store(url if url is not None else get_settings().db_url)
