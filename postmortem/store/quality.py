"""The store's data-quality history: the latest run's check results and every run with its verdict."""

from __future__ import annotations

from sqlalchemy import select

from postmortem.model import QualityResult
from postmortem.store.records import QualityRun
from postmortem.store.sessions import StoreSessions
from postmortem.store.tables import QualityResultRow, QualityRunRow


class QualityMixin(StoreSessions):
    """Reads of the data-quality results and runs that `save_analysis` records."""

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
