"""Similar past incidents from services, log templates and wording."""

from __future__ import annotations

from postmortem.model import Incident, PastIncident
from tasks.similar import SCORE_FLOOR, find_similar

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
