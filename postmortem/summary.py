"""A short, JSON-safe summary of one postmortem run (printed by the CLI, returned by the flow)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from postmortem.model import Analysis

if TYPE_CHECKING:
    from tasks.publish import Published


def top_candidate(analysis: Analysis) -> dict[str, Any] | None:
    """The primary change if one is implicated, else the top-ranked service."""
    rc = analysis.root_cause
    if rc.changes and rc.changes[0].role == "primary":
        c = rc.changes[0]
        return {
            "type": "change",
            "id": c.id,
            "kind": c.kind,
            "service": c.service,
            "score": round(c.score, 3),
            "confidence": c.confidence,
        }
    if rc.services:
        s = rc.services[0]
        return {
            "type": "service",
            "id": s.service,
            "kind": "no change implicated",
            "service": s.service,
            "score": round(s.score, 3),
            "confidence": None,
        }
    return None


def summarize(analysis: Analysis, published: Published | None = None) -> dict[str, Any]:
    """Incident, top candidate, durations, gate counts, tickets and report paths."""
    passed = sum(v.passed for v in analysis.remediation)
    out: dict[str, Any] = {
        "incident": analysis.incident.id,
        "title": analysis.incident.title,
        "severity": analysis.incident.severity,
        "verdict": analysis.root_cause.verdict,
        "top_candidate": top_candidate(analysis),
        "durations": analysis.durations.model_dump(),
        "actions_passed": passed,
        "actions_failed": len(analysis.remediation) - passed,
        "data_quality_failures": sum(not q.success for q in analysis.data_quality),
        "needs_review": analysis.review.needs_review,
        "review_reasons": analysis.review.reasons,
    }
    if published is not None:
        out |= {
            "report_version": published.version,
            "new_report_version": published.new_version,
            "reports": {name: str(path) for name, path in published.files.items()},
            "tickets": [t["key"] for t in published.tickets],
            "tickets_created": published.tickets_created,
        }
    return out


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable lines for the terminal."""
    lines = [f"Incident   {summary['incident']} [{summary['severity']}] {summary['title']}"]
    top = summary["top_candidate"]
    if top is None:
        lines.append("Root cause no candidate found")
    elif top["type"] == "change":
        lines.append(
            f"Root cause {top['kind']} {top['id']} on {top['service']} "
            f"(score {top['score']}, confidence {top['confidence']})"
        )
    else:
        lines.append(
            f"Root cause no change implicated; origin service {top['service']} (score {top['score']})"
        )
    durs = ", ".join(f"{k.replace('time_to_', 'to ')} {_human(v)}" for k, v in summary["durations"].items())
    lines.append(f"Durations  {durs}")
    lines.append(
        f"Actions    {summary['actions_passed']} passed the gate, {summary['actions_failed']} failed"
    )
    if summary["data_quality_failures"]:
        lines.append(
            f"Evidence   {summary['data_quality_failures']} data-quality checks failed (see caveats)"
        )
    if summary["needs_review"]:
        lines.append("Review     NEEDED before this postmortem is trusted:")
        lines += [f"           - {reason}" for reason in summary["review_reasons"]]
    if "tickets" in summary:
        lines.append(
            f"Tickets    {summary['tickets_created']} created, {len(summary['tickets'])} in total"
            + (f" ({', '.join(summary['tickets'])})" if summary["tickets"] else "")
        )
        state = "new version" if summary["new_report_version"] else "unchanged, same version"
        lines.append(f"Report     v{summary['report_version']} ({state})")
        lines += [f"           {path}" for path in summary["reports"].values()]
    return "\n".join(lines)


def _human(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    sign, seconds = ("-" if seconds < 0 else ""), abs(int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return sign + (f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s")
