"""Data-quality results in the store: one run row per analysis with the review verdict, latest results."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from postmortem.model import QualityResult, Quarantined
from postmortem.store import Store
from tests.store.builders import analysis
from tests.store.conftest import count_rows

CRITICAL = QualityResult(
    source="incident",
    check="milestones_in_order",
    success=False,
    unexpected_count=1,
    severity="critical",
    details={"examples": [{"milestone": "mitigated_at"}]},
)
SKEW = QualityResult(
    source="cross_source",
    check="clock_skew_deploys_chat",
    success=False,
    unexpected_count=40,
    severity="critical",
    details={"summary": "chat clock looks shifted"},
)


def test_each_run_is_kept_with_its_review_verdict_and_the_latest_results_replace(store: Store) -> None:
    first = analysis()
    store.save_analysis(first)
    second = analysis()
    second.data_quality = [*second.data_quality, CRITICAL, SKEW]
    second.quarantine = [Quarantined(file="deploys.jsonl", line=3, field="id", reason="duplicate id d1")]
    store.save_analysis(second)

    runs = store.quality_runs("INC-1")
    assert [r.needs_review for r in runs] == [False, True]
    assert runs[0].review_reasons == [] and runs[0].checks_total == 2 and runs[0].checks_failed == 1
    latest = runs[1]
    assert latest.review_reasons == [
        "incident / milestones_in_order: 1 unexpected records",
        "cross_source / clock_skew_deploys_chat: 40 unexpected records (chat clock looks shifted)",
    ]
    assert latest.checks_total == 4 and latest.checks_failed == 3 and latest.quarantined == 1
    assert {(f["source"], f["check"], f["severity"]) for f in latest.failures} >= {
        ("incident", "milestones_in_order", "critical"),
        ("deploys", "status_in_set", "warn"),
    }
    assert latest.run_at >= runs[0].run_at

    assert store.quality_results("INC-1") == second.data_quality
    assert count_rows(store, "quality_results") == 4
    engine = create_engine(store.url)
    try:
        with engine.connect() as conn:
            run_ids = conn.execute(text("SELECT DISTINCT run_id FROM quality_results")).scalars().all()
    finally:
        engine.dispose()
    assert run_ids == [latest.id]


def test_runs_of_two_incidents_stay_apart(store: Store) -> None:
    store.save_analysis(analysis("INC-1"))
    store.save_analysis(analysis("INC-2"))
    store.save_analysis(analysis("INC-2"))
    assert len(store.quality_runs("INC-1")) == 1 and len(store.quality_runs("INC-2")) == 2
    assert store.quality_runs("INC-3") == [] and store.quality_results("INC-3") == []
