"""Conversions between the domain model and the store's table rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from postmortem.model import Analysis, AuditEntry, ReportVersion, RootCause, SimilarIncident
from postmortem.store.records import TicketInfo
from postmortem.store.tables import AuditRow, ChangeRow, ReportVersionRow, TicketRow

SIGNAL_KINDS = ("service", "metric", "log_pattern", "similar_incident")


def change_rows(iid: str, rc: RootCause) -> list[dict[str, Any]]:
    """Rows of the `changes` table: ranked candidates, then the rejected ones with their reason."""
    return [
        {
            "incident_id": iid,
            "rank": rank,
            "change_id": c.id,
            "kind": c.kind,
            "service": c.service,
            "ts": c.ts,
            "score": c.score,
            "confidence": c.confidence,
            "role": c.role,
            "rejected": False,
            "reason": None,
            "evidence": c.evidence,
            "features": c.features,
        }
        for rank, c in enumerate(rc.changes)
    ] + [
        {
            "incident_id": iid,
            "rank": rank,
            "change_id": c.id,
            "kind": c.kind,
            "service": c.service,
            "ts": c.ts,
            "score": c.score,
            "confidence": None,
            "role": None,
            "rejected": True,
            "reason": c.reason,
            "evidence": [],
            "features": {},
        }
        for rank, c in enumerate(rc.rejected_changes)
    ]


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
    return TicketInfo(
        key=row.key,
        incident_id=row.incident_id,
        fingerprint=row.fingerprint,
        title=row.title,
        status=row.status,
        url=row.url,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def report_version(row: ReportVersionRow) -> ReportVersion:
    """The report version as returned by the store."""
    return ReportVersion(
        incident_id=row.incident_id,
        version=row.version,
        content_hash=row.content_hash,
        parent_hash=row.parent_hash,
        path=row.path,
        created_at=row.created_at,
    )


def audit_entry(row: AuditRow) -> AuditEntry:
    """The audit entry as returned by the store."""
    return AuditEntry(
        seq=row.seq,
        ts=row.ts,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        payload=row.payload,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def change_text(row: ChangeRow) -> str:
    """A change as root-cause text, e.g. `deploy dep-7 on checkout`."""
    return f"{row.kind} {row.change_id}" + (f" on {row.service}" if row.service else "")
