"""Data-quality check results and the review policy they drive."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

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
