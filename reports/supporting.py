"""Timeline and Supporting information (log patterns, metric onsets, similar incidents) of the view model."""

from __future__ import annotations

from typing import Any

from postmortem.model import Analysis, SimilarIncident
from reports.formatting import NONE, fmt_number, fmt_score, fmt_time, is_link, truncate

TIMELINE_LIMIT = 1000  # events printed; the rest stay in the analysis JSON
LOG_PATTERN_LIMIT = 10
METRIC_LIMIT = 20
SIMILAR_LIMIT = 10


def more(total: int, shown: int) -> str | None:
    """How many items the report leaves out (None when it prints them all)."""
    return fmt_number(total - shown) if total > shown else None


def timeline(analysis: Analysis, total: int) -> dict[str, Any]:
    """The merged timeline (already capped to TIMELINE_LIMIT) as table rows."""
    events = analysis.timeline[:TIMELINE_LIMIT]
    return {
        "events": [
            {
                "time": fmt_time(e.ts),
                "source": e.source,
                "kind": e.kind,
                "service": e.service or NONE,
                "summary": truncate(e.summary),
                "ref": truncate(e.ref or "", 120),
                "ref_link": e.ref if is_link(e.ref) else None,
            }
            for e in events
        ],
        "total": fmt_number(total),
        "omitted": more(total, len(events)),
    }


def log_patterns(analysis: Analysis, total: int) -> dict[str, Any]:
    """The top log patterns with counts, baseline, first seen and the new flag."""
    patterns = analysis.root_cause.log_patterns[:LOG_PATTERN_LIMIT]
    return {
        "rows": [
            {
                "template": truncate(p.template, 200),
                "service": p.service or NONE,
                "count": fmt_number(p.count),
                "baseline": fmt_number(p.baseline_count),
                "first_seen": fmt_time(p.first_seen),
                "new": "new" if p.new else "",
                "score": fmt_score(p.score),
            }
            for p in patterns
        ],
        "more": more(total, len(patterns)),
    }


def metrics(analysis: Analysis, total: int) -> dict[str, Any]:
    """The top metric series with an onset."""
    series = analysis.root_cause.metrics[:METRIC_LIMIT]
    return {
        "rows": [
            {
                "service": m.service,
                "metric": m.metric,
                "onset": fmt_time(m.onset),
                "score": fmt_score(m.score),
            }
            for m in series
        ],
        "more": more(total, len(series)),
    }


def similar(analysis: Analysis) -> list[dict[str, str]]:
    """Similar incidents from the root cause, then any others listed at the top level, each id once."""
    seen: dict[str, SimilarIncident] = {}
    for s in [*analysis.root_cause.similar_incidents, *analysis.similar_incidents]:
        seen.setdefault(s.id, s)
    return [
        {
            "id": s.id,
            "title": truncate(s.title) or NONE,
            "score": fmt_score(s.score),
            "root_cause": truncate(s.root_cause or "") or NONE,
            "resolution": truncate(s.resolution or "") or NONE,
        }
        for s in list(seen.values())[:SIMILAR_LIMIT]
    ]
