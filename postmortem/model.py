"""Vendor-neutral domain model: evidence records, analysis results, store entities."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, computed_field, field_validator

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4", "SEV5")
Severity = Literal["SEV1", "SEV2", "SEV3", "SEV4", "SEV5"]
ALERT_STATUSES = ("firing", "resolved")
DEPLOY_STATUSES = ("succeeded", "failed", "rolled_back")
CHANGE_KINDS = ("deploy", "rollback", "config", "feature_flag", "infra", "migration")
ACTION_TYPES = ("detect", "mitigate", "prevent", "process")
LOG_LEVELS = ("trace", "debug", "info", "notice", "warn", "warning", "error", "critical", "fatal")
Confidence = Literal["high", "medium", "low"]
Role = Literal["primary", "contributory"]


def _utc(value: datetime | None) -> datetime | None:
    """Normalise an aware datetime to UTC."""
    return value.astimezone(UTC) if value is not None else None


class Record(BaseModel):
    """Base of every evidence record: unknown vendor fields are kept, timestamps are UTC."""

    model_config = ConfigDict(extra="allow", frozen=False)

    @field_validator("*", mode="after")
    @classmethod
    def _to_utc(cls, value: Any) -> Any:
        return _utc(value) if isinstance(value, datetime) else value


class Incident(Record):
    """The incident record (bundle `incident.json`)."""

    id: str
    title: str = ""
    severity: Severity
    status: str = "resolved"
    services: list[str] = Field(default_factory=list)
    started_at: AwareDatetime | None = None
    detected_at: AwareDatetime | None = None
    acknowledged_at: AwareDatetime | None = None
    mitigated_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    commander: str | None = None
    team: str | None = None
    summary: str = ""
    impact: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)

    def milestones(self) -> dict[str, datetime | None]:
        """The incident's own milestones in lifecycle order."""
        return {
            "started_at": self.started_at,
            "detected_at": self.detected_at,
            "acknowledged_at": self.acknowledged_at,
            "mitigated_at": self.mitigated_at,
            "resolved_at": self.resolved_at,
        }


class Alert(Record):
    """An alert firing or resolving (bundle `alerts.jsonl`)."""

    id: str
    ts: AwareDatetime
    ends_at: AwareDatetime | None = None
    name: str | None = None
    service: str | None = None
    severity: str | None = None
    status: str | None = None
    labels: dict[str, Any] = Field(default_factory=dict)
    url: str | None = None


class MetricPoint(Record):
    """One sample of a metric series (bundle `metrics.csv`, long format)."""

    ts: AwareDatetime
    service: str
    metric: str
    value: float | None


class LogRecord(Record):
    """One log line (bundle `logs.jsonl`)."""

    ts: AwareDatetime
    service: str | None = None
    level: str | None = None
    message: str | None = None
    attrs: dict[str, Any] = Field(default_factory=dict)


class Commit(Record):
    """A VCS commit (bundle `commits.jsonl`)."""

    sha: str
    ts: AwareDatetime
    author: str | None = None
    message: str | None = None
    repo: str | None = None
    service: str | None = None
    files: list[str] = Field(default_factory=list)
    additions: int | None = None
    deletions: int | None = None


class Change(Record):
    """A deploy, rollback, config change, flag flip, infra change or migration (`deploys.jsonl`)."""

    id: str
    ts: AwareDatetime
    service: str | None = None
    version: str | None = None
    sha: str | None = None
    environment: str | None = None
    status: str | None = None
    kind: str | None = None
    actor: str | None = None
    url: str | None = None


class ChatMessage(Record):
    """A chat message from the incident channel (bundle `chat.jsonl`)."""

    ts: AwareDatetime
    channel: str | None = None
    user: str | None = None
    text: str | None = None


class Ticket(Record):
    """A ticket linked to the incident (bundle `tickets.jsonl`)."""

    key: str
    ts: AwareDatetime
    title: str | None = None
    status: str | None = None
    url: str | None = None


class Topology(BaseModel):
    """Service call graph: each service maps to the services it calls."""

    services: dict[str, list[str]] = Field(default_factory=dict)


class Action(Record):
    """A proposed remediation action (bundle `actions.jsonl`)."""

    title: str
    description: str | None = None
    owner: str | None = None
    due: date | None = None
    type: str | None = None
    hypothesis: str | None = None
    expected_impact: str | None = None
    success_metric: str | None = None
    rollback_plan: str | None = None
    effort: str | float | int | None = None

    def fingerprint(self, incident_id: str) -> str:
        """Stable identity of the action within its incident (used for idempotent tickets)."""
        norm = " ".join(self.title.lower().split())
        return hashlib.sha256(f"{incident_id}\x00{norm}".encode()).hexdigest()[:16]


class Quarantined(BaseModel):
    """An evidence record set aside with its reason; never silently dropped."""

    file: str
    line: int | None
    field: str | None
    reason: str
    record: dict[str, Any] = Field(default_factory=dict)


# ---------------------------------------------------------------- analysis (DESIGN 6.2)


class TimelineEvent(BaseModel):
    """One entry of the merged machine timeline."""

    ts: datetime
    source: str
    kind: str
    service: str | None = None
    summary: str
    ref: str | None = None


class Moments(BaseModel):
    """Key moments of the incident (null when the evidence does not show them)."""

    impact_start: datetime | None = None
    first_anomaly: datetime | None = None
    first_alert: datetime | None = None
    detection: datetime | None = None
    acknowledgement: datetime | None = None
    mitigation: datetime | None = None
    resolution: datetime | None = None


class Durations(BaseModel):
    """Durations in seconds between key moments (definitions in docs/metrics.md)."""

    time_to_detect: float | None = None
    time_to_acknowledge: float | None = None
    time_to_mitigate: float | None = None
    time_to_resolve: float | None = None


class Gap(BaseModel):
    """A hole in the evidence or in the response: silent period, missing source, late alert."""

    kind: str
    detail: str
    source: str | None = None
    service: str | None = None
    start: datetime | None = None
    end: datetime | None = None


class Onset(BaseModel):
    """First sustained deviation from baseline across all metric series."""

    ts: datetime | None = None
    service: str | None = None
    metric: str | None = None


class ServiceCandidate(BaseModel):
    """A service ranked as the likely origin of the incident."""

    service: str
    score: float
    evidence: list[str] = Field(default_factory=list)


class ChangeCandidate(BaseModel):
    """A change scored against the onset, with the features behind its score."""

    id: str
    kind: str
    service: str | None
    ts: datetime
    score: float
    confidence: Confidence
    role: Role
    evidence: list[str] = Field(default_factory=list)
    features: dict[str, float] = Field(default_factory=dict)


class RejectedChange(BaseModel):
    """A change considered and rejected, with the reason."""

    id: str
    kind: str
    service: str | None
    ts: datetime
    score: float
    reason: str


class MetricCandidate(BaseModel):
    """A metric series with an onset, scored by deviation size."""

    service: str
    metric: str
    score: float
    onset: datetime | None


class LogPattern(BaseModel):
    """A log template ranked by burst against the baseline window."""

    template: str
    service: str | None
    count: int
    first_seen: datetime
    score: float
    baseline_count: int = 0
    new: bool = False


class SimilarIncident(BaseModel):
    """A past incident that resembles this one."""

    id: str
    score: float
    title: str = ""
    root_cause: str | None = None
    resolution: str | None = None


class RootCause(BaseModel):
    """Ranked root-cause signals."""

    verdict: Literal["change", "no_change_implicated"] = "no_change_implicated"
    services: list[ServiceCandidate] = Field(default_factory=list)
    changes: list[ChangeCandidate] = Field(default_factory=list)
    rejected_changes: list[RejectedChange] = Field(default_factory=list)
    metrics: list[MetricCandidate] = Field(default_factory=list)
    log_patterns: list[LogPattern] = Field(default_factory=list)
    similar_incidents: list[SimilarIncident] = Field(default_factory=list)
    evidence_requests: list[str] = Field(default_factory=list)


QualitySeverity = Literal["info", "warn", "critical"]


class QualityResult(BaseModel):
    """Outcome of one data-quality check on one dataset."""

    source: str
    check: str
    success: bool
    unexpected_count: int = 0
    severity: QualitySeverity = "warn"
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def by_gx(self) -> bool:
        """Whether a Great Expectations expectation produced this result (it has a Data Docs page)."""
        kind = self.details.get("expectation")
        return isinstance(kind, str) and kind.startswith("expect_")

    def describe(self) -> str:
        """`logs / ts_in_window: 12 unexpected records (summary or error)`."""
        text = f"{self.source} / {self.check}: {self.unexpected_count:,} unexpected records"
        why = self.details.get("summary") or self.details.get("error")
        return text + (f" ({why})" if why else "")


class Review(BaseModel):
    """Whether the postmortem needs a human review before it is trusted, and why."""

    needs_review: bool = False
    reasons: list[str] = Field(default_factory=list)


def review_of(results: Sequence[QualityResult]) -> Review:
    """The review policy: any failed check of critical severity puts the postmortem under review."""
    reasons = [r.describe() for r in results if not r.success and r.severity == "critical"]
    return Review(needs_review=bool(reasons), reasons=reasons)


class GateVerdict(BaseModel):
    """The remediation quality gate's verdict on one action, with its reasons."""

    title: str
    fingerprint: str
    passed: bool
    reasons: list[str] = Field(default_factory=list)
    owner: str | None = None
    due: date | None = None
    type: str | None = None


class Analysis(BaseModel):
    """The `postmortem analyze --json` document (DESIGN 6.2)."""

    schema_version: str = "1"
    incident: Incident
    timeline: list[TimelineEvent]
    moments: Moments
    durations: Durations
    onset: Onset
    root_cause: RootCause
    similar_incidents: list[SimilarIncident] = Field(default_factory=list)
    data_quality: list[QualityResult]
    gaps: list[Gap]
    remediation: list[GateVerdict]
    quarantine: list[Quarantined] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def review(self) -> Review:
        """Needs human review when a critical data-quality check failed (reasons listed)."""
        return review_of(self.data_quality)

    def to_json(self) -> str:
        """Serialise as the stable JSON document."""
        return json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False)


# ---------------------------------------------------------------- store entities


class ReportVersion(BaseModel):
    """One rendered version of an incident's reports."""

    incident_id: str
    version: int
    content_hash: str
    parent_hash: str | None
    path: str
    created_at: datetime


class AuditEntry(BaseModel):
    """One append-only, hash-chained audit log entry."""

    seq: int
    ts: datetime
    actor: str
    action: str
    subject: str
    payload: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str


class PastIncident(BaseModel):
    """What the store remembers of a past incident, for similarity search."""

    id: str
    title: str = ""
    summary: str = ""
    services: list[str] = Field(default_factory=list)
    root_cause: str | None = None
    resolution: str | None = None
    templates: list[str] = Field(default_factory=list)
    signals: list[str] = Field(default_factory=list, description="deviating metric series, `service/metric`")
