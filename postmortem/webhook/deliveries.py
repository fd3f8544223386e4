"""Durable storage of accepted deliveries: the queue the dispatcher drains into Prefect events.

A delivery is committed (on SQLite with `synchronous=FULL` by default, so it survives a power cut)
before the receiver answers 202. The unique key (source, delivery id) makes a redelivery a no-op;
the row stays `pending` until Prefect confirmed its event, then becomes `emitted`.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, event, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from postmortem.store import Store
from postmortem.store.engine import make_engine, normalise_url
from postmortem.store.tables import WebhookDeliveryRow
from postmortem.webhook.payloads import Notice

PENDING = "pending"
EMITTED = "emitted"
_EVENT_NAMESPACE = uuid.UUID("6f1c1a52-3b7e-5d0e-9a51-7f1d3c0e8b21")
_TABLE = WebhookDeliveryRow.__table__
_FIELDS = [c for c in _TABLE.c if c.name != "payload"]


def event_id_for(source: str, delivery_id: str) -> uuid.UUID:
    """The Prefect event id of a delivery: stable, so a re-emission is dropped by the server as a repeat."""
    return uuid.uuid5(_EVENT_NAMESPACE, f"{source}\x1f{delivery_id}")


@dataclass(frozen=True)
class Delivery:
    """A stored delivery."""

    id: int
    source: str
    delivery_id: str
    event_type: str
    incident_source: str
    incident_id: str
    title: str | None
    event_id: uuid.UUID
    status: str
    received_at: datetime
    attempts: int
    next_attempt_at: datetime
    emitted_at: datetime | None
    last_error: str | None


def _delivery(row: RowMapping | dict[str, Any]) -> Delivery:
    fields = {c.name: row[c.name] for c in _FIELDS}
    return Delivery(**{**fields, "event_id": uuid.UUID(fields["event_id"])})


def _durable_engine(url: str, synchronous: str) -> Engine:
    """The store's engine; on SQLite, commits are synced as asked (FULL: each commit is on disk before
    it returns, surviving a power cut; NORMAL: surviving a crash of the process, not of the machine),
    and checkpoints are left to `DeliveryStore.checkpoint` instead of the commit that fills the WAL."""
    if synchronous not in ("full", "normal"):
        raise ValueError(f"SQLite synchronous mode {synchronous!r}: use 'full' or 'normal'")
    parsed = normalise_url(url)
    engine = make_engine(parsed)
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _sync_mode(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute(f"PRAGMA synchronous={synchronous.upper()}")
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

    return engine


@dataclass
class _Slot:
    """One delivery waiting to be committed by whichever writer holds the lock."""

    values: dict[str, Any]
    finished: bool = False
    new_id: int | None = None
    error: Exception | None = None


class DeliveryStore:
    """The `webhook_deliveries` table of the incident store (migrated when opened).

    Accepts are group-committed: a caller queues its row, and whoever holds the write lock inserts
    every queued row in one transaction, so one commit (one fsync) serves a burst of deliveries, and
    this process's writers queue on a lock rather than on SQLite's busy handler, which sleeps in
    steps of up to 100 ms.
    """

    def __init__(self, url: str, sqlite_synchronous: str = "full") -> None:
        """Open the store at `url`, bringing its schema to head first."""
        Store(url).close()  # applies pending migrations, serialised across processes
        self._engine = _durable_engine(url, sqlite_synchronous)
        self._sqlite = self._engine.dialect.name == "sqlite"
        self._synchronous = sqlite_synchronous
        self._written = 0  # commits since the last checkpoint
        self._writer = self._engine.execution_options(sqlite_begin="IMMEDIATE")
        insert = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        self._insert_stmt = (  # built once: executed with each row's values as parameters
            insert(_TABLE)
            .on_conflict_do_nothing(index_elements=["source", "delivery_id"])
            .returning(_TABLE.c.id)
        )
        self._write_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Slot] = []

    @contextlib.contextmanager
    def _write(self, flush: bool = True) -> Iterator[Connection]:
        """A write transaction, committed on exit; with `flush=False` (bookkeeping that a later commit
        or a re-emission can make up for) an SQLite commit skips its own disk flush."""
        with self._write_lock, self._writer.connect() as conn:
            raw = conn.connection.driver_connection
            relaxed = not flush and self._sqlite and self._synchronous == "full"
            if relaxed:
                raw.execute("PRAGMA synchronous=NORMAL")  # outside the transaction: it applies to its commit
            try:
                with conn.begin():
                    yield conn
            finally:
                if relaxed:
                    raw.execute("PRAGMA synchronous=FULL")
            self._written += 1

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()

    def checkpoint(self, after_commits: int = 0) -> bool:
        """Copy the SQLite WAL into the database without blocking writers (PASSIVE) once at least
        `after_commits` commits were made since the last one; True if it ran (never on PostgreSQL).

        Run off the request path: an automatic checkpoint would run inside the commit that crossed the
        WAL threshold, with the write lock held, and stall every delivery queued behind it.
        """
        if not self._sqlite or self._written < after_commits:
            return False
        self._written = 0
        raw = self._engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            raw.close()
        return True

    def accept(self, notice: Notice, payload: dict[str, Any], now: datetime) -> Delivery | None:
        """Store a closing delivery and commit; None when (source, delivery id) was stored before."""
        slot = _Slot(
            {
                "source": notice.source,
                "delivery_id": notice.delivery_id,
                "event_type": notice.event_type,
                "incident_source": notice.incident_source,
                "incident_id": notice.incident_id,
                "title": notice.title,
                "event_id": str(event_id_for(notice.source, notice.delivery_id)),
                "status": PENDING,
                "payload": payload,
                "received_at": now,
                "attempts": 0,
                "next_attempt_at": now,
                "emitted_at": None,
                "last_error": None,
            }
        )
        with self._queue_lock:
            self._queue.append(slot)
        with self._write_lock:
            if not slot.finished:  # nobody committed it meanwhile: commit everything queued
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._commit(batch)
        if slot.error is not None:
            raise slot.error
        return None if slot.new_id is None else _delivery({**slot.values, "id": slot.new_id})

    def _commit(self, batch: list[_Slot]) -> None:
        """Insert the batch in one transaction (write lock held); if it fails, each row alone."""
        try:
            with self._writer.begin() as conn:
                ids = [conn.execute(self._insert_stmt, slot.values).scalar_one_or_none() for slot in batch]
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error, batch[0].finished = exc, True
                return
            for slot in batch:  # one bad row must not fail the others
                self._commit([slot])
            return
        self._written += 1
        for slot, new_id in zip(batch, ids, strict=True):
            slot.new_id, slot.finished = new_id, True

    def due(self, now: datetime | None, limit: int) -> list[Delivery]:
        """Pending deliveries due at `now` (every pending one when `now` is None), oldest first."""
        query = select(*_FIELDS).where(_TABLE.c.status == PENDING)
        if now is not None:
            query = query.where(_TABLE.c.next_attempt_at <= now)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(_TABLE.c.id).limit(limit)).mappings().all()
        return [_delivery(row) for row in rows]

    def mark_emitted(self, ids: Sequence[int], now: datetime) -> None:
        """Record that Prefect confirmed these deliveries' events."""
        stmt = (
            update(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.id.in_(list(ids)), WebhookDeliveryRow.status == PENDING)
            .values(
                status=EMITTED,
                emitted_at=now,
                attempts=WebhookDeliveryRow.attempts + 1,
                last_error=None,
            )
        )
        with self._write(flush=False) as conn:
            conn.execute(stmt)

    def mark_failed(self, deliveries: Sequence[Delivery], error: str, retry_at: Sequence[datetime]) -> None:
        """Record a failed emission: one more attempt, the error, and when to try again."""
        with self._write(flush=False) as conn:
            for delivery, when in zip(deliveries, retry_at, strict=True):
                conn.execute(
                    update(WebhookDeliveryRow)
                    .where(WebhookDeliveryRow.id == delivery.id, WebhookDeliveryRow.status == PENDING)
                    .values(attempts=WebhookDeliveryRow.attempts + 1, last_error=error, next_attempt_at=when)
                )

    def get(self, source: str, delivery_id: str) -> Delivery | None:
        """One delivery by its key, or None."""
        query = select(*_FIELDS).where(_TABLE.c.source == source, _TABLE.c.delivery_id == delivery_id)
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().one_or_none()
        return _delivery(row) if row is not None else None

    def counts(self) -> dict[str, int]:
        """Number of deliveries per status."""
        query = select(WebhookDeliveryRow.status, func.count()).group_by(WebhookDeliveryRow.status)
        with self._engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(query)}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
