"""The ground truth written beside a generated bundle, for tests and the root-cause evaluation harness."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field


class GroundTruth(BaseModel):
    """What really happened in a generated incident."""

    scenario: str
    seed: int
    incident_id: str
    root_service: str
    root_cause_change_id: str | None = Field(description="the change that caused it; None when no change did")
    culprit_kind: str = Field(
        description="change kind, or 'dependency' / 'saturation' when no change is involved"
    )
    onset_ts: AwareDatetime = Field(description="when the root service's impact began")
    onset_metric: str
    affected_services: list[str] = Field(description="root first, then callers by hop distance")
    description: str
    service_onsets: dict[str, datetime] = Field(default_factory=dict)
    precursor_ts: AwareDatetime | None = Field(default=None, description="start of a gradual precursor")
    mitigation_change_id: str | None = None
    decoy_change_ids: list[str] = Field(default_factory=list)
    culprit_commit_shas: list[str] = Field(default_factory=list)
    root_log_templates: list[str] = Field(default_factory=list)
    dropped_sources: list[str] = Field(default_factory=list)
    variation: dict[str, Any] = Field(
        default_factory=dict, description="how the change records were perturbed (empty: not at all)"
    )
