"""Evidence caveats for the report: failed data-quality checks, quarantined records and gaps."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from postmortem.model import Analysis, Gap, QualityResult, Quarantined, review_of
from reports.formatting import NONE, fmt_number, fmt_time, label, truncate
from reports.redact import redact

EXAMPLES = 3  # offending values printed per failed check, example reasons per quarantine group
DATA_DOCS = "data-docs/index.html"  # GX Data Docs, written beside the report files when published
_SEVERITY_ORDER = {"critical": 0, "warn": 1, "info": 2}


def critical_failures(results: Sequence[QualityResult]) -> list[QualityResult]:
    """The failed checks of critical severity: any one of them puts the report under review."""
    return [r for r in results if not r.success and r.severity == "critical"]


def review_reasons(results: Sequence[QualityResult]) -> list[str]:
    """One line per critical failure: `logs / ts_not_null: 12 unexpected records (why)`."""
    return review_of(results).reasons


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
    """`line 12: "x"; line 40: "y"`, the error, summary or note of a check, or the missing-value mark."""
    parts = []
    if details.get("error"):
        parts.append(f"error: {details['error']}")
    for key in ("summary", "note"):
        if details.get(key):
            parts.append(str(details[key]))
    parts += [truncate(_example(e), 80) for e in (details.get("examples") or [])[:EXAMPLES]]
    return "; ".join(parts) or NONE


def _example(example: Any) -> str:
    """One offending record: `line 12: "x"`, a cross-source pair with its lag, or `service: detail`."""
    if not isinstance(example, dict):
        return str(example)
    if "lag_s" in example:
        pair = f"{example.get('cause')} → {example.get('effect')}"
        return f"{example.get('service')}: {pair} {example['lag_s']:+.0f} s"
    if "value" not in example and "detail" in example:
        return f"{example.get('service')}: {example['detail']}"
    value = json.dumps(example.get("value"), ensure_ascii=False, sort_keys=True, default=str)
    line = example.get("line")
    return f"line {line}: {value}" if line is not None else value


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
        "data_docs": DATA_DOCS if any(r.by_gx for r in results) else None,
    }


def quality_table(results: Sequence[QualityResult]) -> list[dict[str, Any]]:
    """Every data-quality result as a redacted table row, failures first (most severe first)."""
    ordered = sorted(
        results, key=lambda r: (r.success, _SEVERITY_ORDER.get(r.severity, 3), r.source, r.check)
    )
    return [
        {
            "source": r.source,
            "check": r.check,
            "severity": r.severity,
            "result": "failed" if not r.success else "note" if r.details.get("note") else "passed",
            "unexpected": r.unexpected_count,
            "examples": redact(_examples(r.details)),
        }
        for r in ordered
    ]


def quality_description(analysis: Analysis, data_docs: Path | None, version: str) -> str:
    """Markdown above the data-quality table: totals, the review verdict with its reasons, Data Docs."""
    results, review = analysis.data_quality, analysis.review
    passed, quarantined = sum(r.success for r in results), len(analysis.quarantine)
    lines = [
        f"Data quality of {redact(analysis.incident.id)} (checks v{version}): {fmt_number(passed)} of "
        f"{fmt_number(len(results))} checks passed; {fmt_number(quarantined)} records quarantined."
    ]
    if review.needs_review:
        lines.append("**Needs human review** (critical checks failed):")
        lines += [f"- {redact(reason)}" for reason in review.reasons]
    if data_docs is not None:
        lines.append(f"Great Expectations Data Docs: `{data_docs}`")
    return "\n".join(lines)
