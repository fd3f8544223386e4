"""The analysis document printed by `postmortem analyze --json` (DESIGN 6.2)."""

from __future__ import annotations

import json

from pydantic import BaseModel, Field, computed_field

from postmortem.model.actions import GateVerdict
from postmortem.model.evidence import Incident, Quarantined
from postmortem.model.quality import QualityResult, Review, review_of
from postmortem.model.root_cause import RootCause, SimilarIncident
from postmortem.model.timeline import Durations, Gap, Moments, Onset, TimelineEvent


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
