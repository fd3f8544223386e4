"""Ranked root-cause signals: candidate services, changes, metrics, log patterns and similar incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Confidence = Literal["high", "medium", "low"]
Role = Literal["primary", "contributory"]


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
