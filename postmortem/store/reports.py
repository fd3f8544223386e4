"""The store's report versions: each rendered version of an incident's reports, numbered from 1."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from postmortem.model import ReportVersion
from postmortem.store.rows import report_version
from postmortem.store.sessions import StoreSessions
from postmortem.store.tables import ReportVersionRow


class ReportsMixin(StoreSessions):
    """Recording and reading report versions."""

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
