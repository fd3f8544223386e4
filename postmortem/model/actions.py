"""Remediation actions: the proposed action (bundle `actions.jsonl`) and the quality gate's verdict on it."""

from __future__ import annotations

import hashlib
from datetime import date

from pydantic import BaseModel, Field

from postmortem.model.evidence import Record

ACTION_TYPES = ("detect", "mitigate", "prevent", "process")


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


class GateVerdict(BaseModel):
    """The remediation quality gate's verdict on one action, with its reasons."""

    title: str
    fingerprint: str
    passed: bool
    reasons: list[str] = Field(default_factory=list)
    owner: str | None = None
    due: date | None = None
    type: str | None = None
