"""The analysed course of the incident: merged timeline, key moments, durations, gaps and onset."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


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
