"""What the store keeps over time: report versions, audit log entries, past incidents for similarity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


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
