"""Evidence caveats for the report: failed data-quality checks, quarantined records and gaps."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from postmortem.model import Gap, QualityResult, Quarantined
from reports.formatting import NONE, fmt_number, fmt_time, label, truncate
from reports.redact import redact

EXAMPLES = 3  # offending values printed per failed check, example reasons per quarantine group
_SEVERITY_ORDER = {"critical": 0, "warn": 1, "info": 2}


def critical_failures(results: Sequence[QualityResult]) -> list[QualityResult]:
    """The failed checks of critical severity: any one of them puts the report under review."""
    return [r for r in results if not r.success and r.severity == "critical"]


def review_reasons(results: Sequence[QualityResult]) -> list[str]:
    """One line per critical failure: `logs / ts_not_null: 12 unexpected records`."""
    return [
        f"{r.source} / {r.check}: {fmt_number(r.unexpected_count)} unexpected records"
        + (f" ({r.details['error']})" if r.details.get("error") else "")
        for r in critical_failures(results)
    ]


def quality_failures(results: Sequence[QualityResult]) -> list[dict[str, Any]]:
    """Failed checks, most severe first, with their unexpected counts and a few examples."""
    failed = sorted(
        (r for r in results if not r.success),
        key=lambda r: (_SEVERITY_ORDER.get(r.severity, 3), r.source, r.check),
    )
    return [
        {
            "source": r.source,
            "check": r.check,
            "severity": r.severity,
            "unexpected": fmt_number(r.unexpected_count),
            "examples": _examples(r.details),
        }
        for r in failed
    ]


def _examples(details: dict[str, Any]) -> str:
    """`line 12: "x"; line 40: "y"`, the error or note of a check, or the missing-value mark."""
    parts = []
    if details.get("error"):
        parts.append(f"error: {details['error']}")
    if details.get("note"):
        parts.append(str(details["note"]))
    for example in (details.get("examples") or [])[:EXAMPLES]:
        if isinstance(example, dict):
            value = json.dumps(example.get("value"), ensure_ascii=False, sort_keys=True, default=str)
            line = example.get("line")
            parts.append(f"line {line}: {truncate(value, 80)}" if line is not None else truncate(value, 80))
        else:
            parts.append(truncate(str(example), 80))
    return "; ".join(parts) or NONE


def quarantine_groups(records: Sequence[Quarantined]) -> list[dict[str, Any]]:
    """Quarantined records counted by file and field, largest group first, with example reasons (redacted)."""
    groups: dict[tuple[str, str], list[Quarantined]] = {}
    for record in records:
        groups.setdefault((record.file, record.field or NONE), []).append(record)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [
        {
            "file": redact(file),
            "field": redact(field),
            "count": fmt_number(len(members)),
            "examples": "; ".join(
                (f"line {q.line}: " if q.line is not None else "") + truncate(redact(q.reason), 120)
                for q in members[:EXAMPLES]
            ),
        }
        for (file, field), members in ordered
    ]


def gap_rows(gaps: Sequence[Gap]) -> list[dict[str, str]]:
    """Gaps as table rows, in the order the analysis gives them."""
    return [
        {
            "kind": label(g.kind),
            "detail": truncate(g.detail),
            "source": g.source or NONE,
            "service": g.service or NONE,
            "start": fmt_time(g.start),
            "end": fmt_time(g.end),
        }
        for g in gaps
    ]


def caveats(results: Sequence[QualityResult], quarantine: Sequence[Quarantined], gaps: Sequence[Gap]) -> dict:
    """The Evidence caveats section."""
    return {
        "checks_run": bool(results),
        "checks_total": fmt_number(len(results)),
        "checks_passed": fmt_number(sum(r.success for r in results)),
        "failures": quality_failures(results),
        "quarantine_total": fmt_number(len(quarantine)),
        "quarantine": quarantine_groups(quarantine),
        "gaps": gap_rows(gaps),
    }
