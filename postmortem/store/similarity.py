"""The store's similarity memory: what it remembers of past incidents for similarity search."""

from __future__ import annotations

from sqlalchemy import select

from postmortem.model import PastIncident
from postmortem.store.rows import change_text
from postmortem.store.sessions import StoreSessions
from postmortem.store.tables import ActionRow, ChangeRow, IncidentRow, SignalRow


class SimilarityMixin(StoreSessions):
    """Past incidents with their root cause, resolution, log templates and deviating metrics."""

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
