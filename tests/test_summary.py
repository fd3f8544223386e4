"""The run summary printed by `postmortem run` and `postmortem demo`."""

from __future__ import annotations

from postmortem.model import QualityResult
from postmortem.summary import format_summary, summarize
from tests.reports import sample


def test_summary_without_critical_failure_needs_no_review() -> None:
    summary = summarize(sample.analysis())
    assert summary["needs_review"] is False and "Review" not in format_summary(summary)
    assert summary["data_quality_failures"] == 2


def test_critical_quality_failure_puts_the_postmortem_under_review() -> None:
    skew = QualityResult(
        source="chat", check="clock_skew", success=False, unexpected_count=12, severity="critical"
    )
    analysis = sample.analysis(data_quality=[*sample.data_quality(), skew])
    summary = summarize(analysis)
    text = format_summary(summary)
    assert summary["needs_review"] is True and len(summary["review_reasons"]) == 1
    assert "Review     NEEDED" in text and "clock_skew" in text
