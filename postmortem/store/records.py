"""Small pydantic records returned by the store that the domain model does not define."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class TicketInfo(BaseModel):
    """A ticket of the local tracker, tied to one remediation action of one incident."""

    key: str
    incident_id: str
    fingerprint: str
    title: str
    status: str
    url: str | None = None
    created_at: datetime
    updated_at: datetime


class RawPayload(BaseModel):
    """A stored raw evidence payload, decompressed."""

    incident_id: str
    source: str
    uri: str
    sha256: str
    size: int
    fetched_at: datetime
    content: bytes


class QualityRun(BaseModel):
    """One stored data-quality run of an incident: totals, failed checks and the review verdict."""

    id: int
    incident_id: str
    run_at: datetime
    checks_total: int
    checks_failed: int
    needs_review: bool
    review_reasons: list[str]
    failures: list[dict[str, Any]]
    quarantined: int
