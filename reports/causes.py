"""Root Causes and Trigger sections of the report view model."""

from __future__ import annotations

from typing import Any

from postmortem.model import Analysis, ChangeCandidate, RejectedChange
from reports.formatting import NONE, badge, between, fmt_number, fmt_score, fmt_time, truncate
from reports.lessons import primary_change

VERDICTS = {
    "change": "A change is implicated as the trigger.",
    "no_change_implicated": "No change is implicated by the evidence.",
}


def change_row(change: ChangeCandidate) -> dict[str, Any]:
    """A change candidate: identity, time, score, confidence badge, evidence and score features."""
    return {
        "id": change.id,
        "kind": change.kind,
        "service": change.service or NONE,
        "time": fmt_time(change.ts),
        "score": fmt_score(change.score),
        "role": change.role,
        "confidence": badge(change.confidence),
        "evidence": [truncate(e) for e in change.evidence],
        "evidence_text": truncate("; ".join(change.evidence)) or NONE,
        "features": ", ".join(f"{k} {fmt_number(v)}" for k, v in sorted(change.features.items())) or NONE,
    }


def rejected_row(change: RejectedChange) -> dict[str, str]:
    """A rejected change with the reason it was rejected."""
    return {
        "id": change.id,
        "kind": change.kind,
        "service": change.service or NONE,
        "time": fmt_time(change.ts),
        "score": fmt_score(change.score),
        "reason": truncate(change.reason),
    }


def root_causes(analysis: Analysis) -> dict[str, Any]:
    """Verdict, primary and contributory changes, ranked services, rejected candidates, evidence requests."""
    rc = analysis.root_cause
    primary = primary_change(analysis)
    return {
        "verdict": rc.verdict,
        "verdict_text": VERDICTS[rc.verdict],
        "primary": change_row(primary) if primary is not None else None,
        "contributory": [change_row(c) for c in rc.changes if c.role == "contributory"],
        "services": [
            {
                "rank": str(rank),
                "service": s.service,
                "score": fmt_score(s.score),
                "evidence": truncate("; ".join(s.evidence)) or NONE,
            }
            for rank, s in enumerate(rc.services, start=1)
        ],
        "rejected": [rejected_row(c) for c in rc.rejected_changes],
        "evidence_requests": list(rc.evidence_requests),
    }


def trigger(analysis: Analysis) -> dict[str, Any]:
    """The primary change if one is implicated, else the onset (metric, service, time), else nothing."""
    onset, primary = analysis.onset, primary_change(analysis)
    onset_text = (
        f"{onset.metric or 'a metric'} on {onset.service or 'an unnamed service'} at {fmt_time(onset.ts)}"
        if onset.ts is not None
        else None
    )
    rows = []
    if primary is not None:
        lead = between(primary.ts, onset.ts)
        text = f"{primary.kind} {primary.id}" + (f" on {primary.service}" if primary.service else "")
        text += f" at {fmt_time(primary.ts)}"
        if lead["known"]:
            text += f", {lead['human']} before the onset of {onset_text}"
        rows += [
            {"name": "Change", "value": f"{primary.kind} {primary.id}"},
            {"name": "Service", "value": primary.service or NONE},
            {"name": "Time", "value": fmt_time(primary.ts)},
            {"name": "Confidence", "value": badge(primary.confidence)["label"]},
            {"name": "Lead time to onset", "value": lead["text"]},
        ]
        kind = "change"
    elif onset_text is not None:
        text, kind = f"No change is implicated; the first sustained anomaly was {onset_text}.", "onset"
    else:
        text, kind = (
            "No trigger could be identified from the evidence (no implicated change, no onset).",
            "none",
        )
    if onset.ts is not None:
        rows += [
            {"name": "Onset metric", "value": onset.metric or NONE},
            {"name": "Onset service", "value": onset.service or NONE},
            {"name": "Onset time", "value": fmt_time(onset.ts)},
        ]
    return {"kind": kind, "text": text + ("" if text.endswith(".") else "."), "rows": rows}
