"""Similar past incidents from services, log templates and wording."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from connectors.bundle import load_bundle
from postmortem.model import Incident, PastIncident
from postmortem.store import Store
from tasks.analyze import analyze
from tasks.similar import SCORE_FLOOR, find_similar
from tests.conftest import EXAMPLES

NOW = datetime(2026, 12, 1, tzinfo=UTC)

CURRENT = Incident(
    id="INC-9",
    severity="SEV2",
    title="Payments API errors after deploy",
    summary="Connection pool exhausted in payments; checkout failing.",
    services=["payments"],
)
TEMPLATES = ["db pool exhausted after <DURATION>", "checkout failed: upstream <IP> timeout"]


def past(id: str, **fields) -> PastIncident:
    """A remembered incident."""
    return PastIncident(id=id, **fields)


HISTORY = [
    past(
        "INC-2",
        title="Payments errors: connection pool exhausted",
        summary="Pool too small after config change",
        services=["payments", "checkout"],
        templates=["db pool exhausted after <DURATION>"],
        root_cause="pool size config",
        resolution="raised the pool size",
    ),
    past(
        "INC-3",
        title="Search index lag",
        summary="Indexer queue backlog",
        services=["search"],
        templates=["indexer lag <NUM> s"],
    ),
    past("INC-9", title=CURRENT.title, summary=CURRENT.summary, services=["payments"], templates=TEMPLATES),
]


def test_shared_services_and_templates_rank_first_and_self_is_excluded() -> None:
    result = find_similar(CURRENT, ["payments", "checkout"], TEMPLATES, HISTORY)
    ids = [r.id for r in result]
    assert ids[0] == "INC-2"
    assert "INC-9" not in ids
    assert "INC-3" not in ids  # unrelated: below the floor
    top = result[0]
    assert (top.root_cause, top.resolution, top.title) == (
        "pool size config",
        "raised the pool size",
        HISTORY[0].title,
    )
    assert top.score >= SCORE_FLOOR


def test_text_similarity_alone_finds_a_match_when_nothing_else_is_known() -> None:
    history = [
        past("A", title="Payments connection pool exhausted", summary="payments pool"),
        past("B", title="Certificate expired on edge proxy", summary="TLS handshake failures"),
    ]
    result = find_similar(CURRENT, [], [], history)
    assert [r.id for r in result] == ["A"]


def test_more_overlap_scores_higher_and_ranking_is_deterministic() -> None:
    history = [
        past("X2", services=["payments"], templates=TEMPLATES[:1]),
        past("X1", services=["payments"], templates=TEMPLATES[:1]),
        past("Y", services=["payments", "ledger", "auth"], templates=TEMPLATES[:1]),
    ]
    result = find_similar(CURRENT, ["payments"], TEMPLATES, history)
    assert [r.id for r in result] == ["X1", "X2", "Y"]
    assert result[0].score == result[1].score > result[2].score


def test_limit_and_empty_history() -> None:
    history = [past(f"P{i}", services=["payments"], templates=TEMPLATES) for i in range(10)]
    assert len(find_similar(CURRENT, ["payments"], TEMPLATES, history, limit=3)) == 3
    assert find_similar(CURRENT, ["payments"], TEMPLATES, []) == []


def test_shared_deviating_signals_raise_the_score() -> None:
    history = [
        past("SAME", services=["payments"], signals=["payments-db/connections_utilization"]),
        past("OTHER", services=["payments"], signals=["payments/cpu_utilization"]),
    ]
    result = find_similar(CURRENT, ["payments"], [], history, signals=["Payments-DB/connections_utilization"])
    assert [r.id for r in result] == ["SAME", "OTHER"]
    assert result[0].score > result[1].score


def test_templates_mined_differently_still_match_by_their_words() -> None:
    history = [
        past("A", templates=["db pool exhausted after <*>"]),  # a wildcard where this incident has a type
        past("B", templates=["indexer lag <NUM> s", "cache miss for key <HEX>"]),
    ]
    result = find_similar(CURRENT, [], ["db pool exhausted after <DURATION>"], history)
    assert [r.id for r in result] == ["A"]


def test_history_from_a_real_store_brings_the_root_cause_and_the_fix(tmp_path: Path) -> None:
    first = analyze(load_bundle(EXAMPLES / "bad-deploy-rollback"), now=NOW)
    unrelated = analyze(load_bundle(EXAMPLES / "dependency-outage"), now=NOW)
    bundle = load_bundle(EXAMPLES / "bad-deploy-rollback")
    bundle.incident = bundle.incident.model_copy(update={"id": "INC-RECURRENCE"})
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.save_analysis(first)
        store.save_analysis(unrelated)
        history = store.past_incidents(exclude_id="INC-RECURRENCE")
    assert {len(p.signals) > 0 for p in history} == {True}
    again = analyze(bundle, history=history, now=NOW)
    top = again.similar_incidents[0]
    assert top.id == first.incident.id
    assert top.root_cause is not None and first.root_cause.changes[0].id in top.root_cause
    scores = {s.id: s.score for s in again.similar_incidents}
    assert scores.get(unrelated.incident.id, 0.0) < top.score
