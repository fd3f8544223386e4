"""Conversions between the domain model and the store's table rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from postmortem.model import (
    Analysis,
    AuditEntry,
    ChangeCandidate,
    RejectedChange,
    ReportVersion,
    RootCause,
    SimilarIncident,
)
from postmortem.store.records import TicketInfo
from postmortem.store.tables import AuditRow, ChangeRow, ReportVersionRow, TicketRow

SIGNAL_KINDS = ("service", "metric", "log_pattern", "similar_incident")


def change_rows(iid: str, rc: RootCause) -> list[dict[str, Any]]:
    """Rows of the `changes` table: ranked candidates, then the rejected ones with their reason."""
    return [
        _change_row(
            iid,
            rank,
            c,
            confidence=c.confidence,
            role=c.role,
            rejected=False,
            reason=None,
            evidence=c.evidence,
            features=c.features,
        )
        for rank, c in enumerate(rc.changes)
    ] + [
        _change_row(
            iid,
            rank,
            c,
            confidence=None,
            role=None,
            rejected=True,
            reason=c.reason,
            evidence=[],
            features={},
        )
        for rank, c in enumerate(rc.rejected_changes)
    ]


def _change_row(
    iid: str, rank: int, change: ChangeCandidate | RejectedChange, **fields: Any
) -> dict[str, Any]:
    """A `changes` row: the columns a ranked and a rejected change share, then `fields`."""
    return {
        "incident_id": iid,
        "rank": rank,
        "change_id": change.id,
        "kind": change.kind,
        "service": change.service,
        "ts": change.ts,
        "score": change.score,
        **fields,
    }


def signal_rows(iid: str, analysis: Analysis) -> list[dict[str, Any]]:
    """Rows of the `signals` table: ranked services, metrics, log patterns and similar incidents."""
    rc = analysis.root_cause
    similar: dict[str, SimilarIncident] = {}
    for candidate in [*analysis.similar_incidents, *rc.similar_incidents]:
        similar.setdefault(candidate.id, candidate)
    ranked: dict[str, list[tuple[str, float, dict[str, Any]]]] = {
        "service": [(s.service, s.score, s.model_dump(mode="json")) for s in rc.services],
        "metric": [(f"{m.service}/{m.metric}", m.score, m.model_dump(mode="json")) for m in rc.metrics],
        "log_pattern": [(p.template, p.score, p.model_dump(mode="json")) for p in rc.log_patterns],
        "similar_incident": [(s.id, s.score, s.model_dump(mode="json")) for s in similar.values()],
    }
    return [
        {"incident_id": iid, "kind": kind, "rank": rank, "ref": ref, "score": score, "data": data}
        for kind in SIGNAL_KINDS
        for rank, (ref, score, data) in enumerate(ranked[kind])
    ]


def quality_run_row(iid: str, analysis: Analysis, run_at: datetime) -> dict[str, Any]:
    """The `quality_runs` row of one analysis: totals, failed checks and the review verdict."""
    failed = [q for q in analysis.data_quality if not q.success]
    review = analysis.review
    return {
        "incident_id": iid,
        "run_at": run_at,
        "checks_total": len(analysis.data_quality),
        "checks_failed": len(failed),
        "needs_review": review.needs_review,
        "review_reasons": review.reasons,
        "failures": [
            {
                "source": q.source,
                "check": q.check,
                "severity": q.severity,
                "unexpected_count": q.unexpected_count,
            }
            for q in failed
        ],
        "quarantined": len(analysis.quarantine),
    }


def quality_rows(iid: str, analysis: Analysis, run_id: int | None = None) -> list[dict[str, Any]]:
    """Rows of the `quality_results` table, tied to their run."""
    return [
        {
            "incident_id": iid,
            "run_id": run_id,
            "source": q.source,
            "check_name": q.check,
            "success": q.success,
            "unexpected_count": q.unexpected_count,
            "severity": q.severity,
            "details": q.model_dump(mode="json")["details"],
        }
        for q in analysis.data_quality
    ]


def ticket_info(row: TicketRow) -> TicketInfo:
    """The ticket as returned by the store."""
    return TicketInfo.model_validate(row, from_attributes=True)


def report_version(row: ReportVersionRow) -> ReportVersion:
    """The report version as returned by the store."""
    return ReportVersion.model_validate(row, from_attributes=True)


def audit_entry(row: AuditRow) -> AuditEntry:
    """The audit entry as returned by the store."""
    return AuditEntry.model_validate(row, from_attributes=True)


def change_text(row: ChangeRow) -> str:
    """A change as root-cause text, e.g. `deploy dep-7 on checkout`."""
    return f"{row.kind} {row.change_id}" + (f" on {row.service}" if row.service else "")
