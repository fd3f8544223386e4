"""The store's local ticket tracker: one PREFIX-N ticket per (incident, remediation action)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from postmortem.model import GateVerdict
from postmortem.store.records import TicketInfo
from postmortem.store.rows import ticket_info
from postmortem.store.sessions import StoreSessions, utc_now
from postmortem.store.tables import TicketRow

# ensure_ticket retries when a concurrent caller took the same key or action in between.
_TICKET_ATTEMPTS = 20


class TicketsMixin(StoreSessions):
    """Idempotent ticket creation, listing and status updates."""

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
                    now = utc_now()
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
            row.updated_at = utc_now()
            return ticket_info(row)
