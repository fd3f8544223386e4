"""The monthly governance audit, first version: postmortems of the month and remediation-gate pass rates.

What it measures: which incidents had a postmortem run in the month (from the audit log), how many
report versions were published, and for those incidents how many remediation actions passed the
quality gate, with the most frequent reasons for failing it. What it does not do yet: score
postmortem quality, check whether closed actions worked (recurrence, metric before/after), trend
MTTx or the change failure rate, rank the backlog. The per-incident part is fanned out in chunks,
one task per chunk (never one per incident), on threads or on a Dask cluster.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from postmortem.model import AuditEntry, GateVerdict
from postmortem.store import open_store

COMPLETED = "postmortem.completed"
PUBLISHED = "report.published"
TOP_REASONS = 10
NOT_YET = (
    "postmortem quality scores",
    "effectiveness of closed actions (recurrence, metric before/after)",
    "MTTx and change failure rate trends",
    "backlog ranking by risk reduction per effort",
)
_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Period:
    """A calendar month in UTC: [start, end)."""

    label: str
    start: datetime
    end: datetime


def month_period(month: str | None, now: datetime) -> Period:
    """The month `YYYY-MM`, or the month before `now` when None (a run on the 1st audits the month before)."""
    if month is None:
        year, number = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    else:
        match = _MONTH_RE.match(month.strip())
        if match is None:
            raise ValueError(f"parameter 'month': {month!r} is not a month written YYYY-MM (e.g. 2026-05)")
        year, number = int(match[1]), int(match[2])
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return Period(f"{year:04d}-{number:02d}", start, end)


@dataclass
class MonthActivity:
    """Postmortem runs and report versions of a month, from the audit log."""

    incidents: list[str]
    runs: int
    reports_published: int


def month_activity(entries: Iterable[AuditEntry], period: Period) -> MonthActivity:
    """Incidents with a completed postmortem run in the period (in run order), runs, reports published."""
    inside = [e for e in entries if period.start <= e.ts < period.end]
    runs = [e.subject for e in inside if e.action == COMPLETED]
    return MonthActivity(
        incidents=list(dict.fromkeys(runs)),
        runs=len(runs),
        reports_published=sum(e.action == PUBLISHED for e in inside),
    )


@dataclass
class GateStats:
    """Remediation-gate outcomes over a set of incidents."""

    incidents: int = 0
    incidents_with_actions: int = 0
    actions: int = 0
    passed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def pass_rate(self) -> float | None:
        """Share of actions that passed the gate (None without actions)."""
        return self.passed / self.actions if self.actions else None

    def __add__(self, other: GateStats) -> GateStats:
        return GateStats(
            self.incidents + other.incidents,
            self.incidents_with_actions + other.incidents_with_actions,
            self.actions + other.actions,
            self.passed + other.passed,
            self.reasons + other.reasons,
        )


def reason_kind(reason: str) -> str:
    """The criterion a gate reason names (the text before its first colon)."""
    return reason.split(":", 1)[0].strip()


def gate_stats(verdicts_by_incident: Sequence[Sequence[GateVerdict]]) -> GateStats:
    """Counts of actions and passes, and failing criteria, over the incidents' stored verdicts."""
    flat = [v for verdicts in verdicts_by_incident for v in verdicts]
    failed = (reason_kind(r) for v in flat if not v.passed for r in v.reasons)
    return GateStats(
        incidents=len(verdicts_by_incident),
        incidents_with_actions=sum(bool(v) for v in verdicts_by_incident),
        actions=len(flat),
        passed=sum(v.passed for v in flat),
        reasons=Counter(failed),
    )


def chunked(items: Sequence[str], size: int) -> list[list[str]]:
    """Consecutive slices of at most `size` items."""
    if size < 1:
        raise ValueError(f"parameter 'chunk_size' must be at least 1, got {size}")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def month_report(period: Period, activity: MonthActivity, stats: GateStats) -> dict[str, object]:
    """The audit's JSON-safe summary, saying what was measured and what is not measured yet."""
    return {
        "month": period.label,
        "postmortems": len(activity.incidents),
        "postmortem_runs": activity.runs,
        "reports_published": activity.reports_published,
        "incidents_with_actions": stats.incidents_with_actions,
        "actions": stats.actions,
        "actions_passed": stats.passed,
        "gate_pass_rate": None if stats.pass_rate is None else round(stats.pass_rate, 4),
        "top_gate_failures": dict(stats.reasons.most_common(TOP_REASONS)),
        "not_measured_yet": list(NOT_YET),
    }


def report_markdown(report: dict[str, object]) -> str:
    """The summary as a short markdown artifact."""
    rate = report["gate_pass_rate"]
    lines = [
        f"# Governance audit {report['month']}",
        "",
        f"- postmortems: {report['postmortems']} incidents ({report['postmortem_runs']} runs, "
        f"{report['reports_published']} report versions published)",
        f"- remediation gate: {report['actions_passed']} of {report['actions']} actions passed"
        + (f" ({rate:.0%})" if isinstance(rate, float) else ""),
    ]
    failures = report["top_gate_failures"]
    if isinstance(failures, dict) and failures:
        lines += ["", "| most frequent gate failure | actions |", "|---|---|"]
        lines += [f"| {kind} | {count} |" for kind, count in failures.items()]
    lines += ["", "Not measured yet: " + "; ".join(NOT_YET) + "."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- Prefect tasks (thin)


@task(name="month-activity", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def read_month_activity(db_url: str, period: Period) -> MonthActivity:
    """The month's postmortem runs and report versions from the audit log."""
    with open_store(db_url) as store:
        entries = store.audit_entries(since=period.start, until=period.end, actions=(COMPLETED, PUBLISHED))
        return month_activity(entries, period)


@task(name="audit-gate-chunk", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def audit_chunk(db_url: str, incident_ids: list[str]) -> GateStats:
    """Gate outcomes of one chunk of incidents (one store connection and one query per chunk)."""
    with open_store(db_url) as store:
        verdicts = store.actions_of(incident_ids)
    return gate_stats([verdicts[iid] for iid in incident_ids])
