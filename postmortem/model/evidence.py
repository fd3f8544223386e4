"""Evidence records of the incident bundle (DESIGN 6.1): the incident, alerts, metrics, logs, changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4", "SEV5")
Severity = Literal["SEV1", "SEV2", "SEV3", "SEV4", "SEV5"]
ALERT_STATUSES = ("firing", "resolved")
DEPLOY_STATUSES = ("succeeded", "failed", "rolled_back")
CHANGE_KINDS = ("deploy", "rollback", "config", "feature_flag", "infra", "migration")
LOG_LEVELS = ("trace", "debug", "info", "notice", "warn", "warning", "error", "critical", "fatal")


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


class Quarantined(BaseModel):
    """An evidence record set aside with its reason; never silently dropped."""

    file: str
    line: int | None
    field: str | None
    reason: str
    record: dict[str, Any] = Field(default_factory=dict)
