"""Change correlation on synthetic deploy and commit frames with a known culprit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from connectors.bundle import DATASETS, empty_frame, load_bundle, write_bundle
from postmortem.model import Incident, Onset, ServiceCandidate, Topology
from tasks.changes import PRIMARY_THRESHOLD, correlate_changes

ONSET = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
TOPOLOGY = Topology(
    services={
        "checkout": ["payments"],
        "payments": ["ledger"],
        "ledger": [],
        "search": ["index"],
        "index": [],
    }
)
ROOT = [ServiceCandidate(service="payments", score=0.9)]


def at(minutes: float) -> datetime:
    """A time relative to the onset."""
    return ONSET + timedelta(minutes=minutes)


def incident(**milestones: Any) -> Incident:
    """The incident under analysis: started at the onset, mitigated 45 min later by default."""
    values = {"started_at": ONSET, "mitigated_at": at(45), "resolved_at": at(60)} | milestones
    return Incident(id="INC-1", severity="SEV2", services=["payments"], **values)


def frame(dataset: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """An evidence frame shaped like the bundle reader's output."""
    spec = DATASETS[dataset]
    if not rows:
        return empty_frame(spec)
    data = pd.DataFrame(rows)
    for col in spec.columns:
        if col not in data:
            data[col] = None
    data["ts"] = pd.to_datetime(data["ts"], utc=True).astype("datetime64[ns, UTC]")
    data["_line"] = np.arange(1, len(data) + 1)
    return data


def deploy(id: str, minutes: float, service: str | None = "payments", **extra: Any) -> dict[str, Any]:
    """A deploy record `minutes` after the onset (negative: before)."""
    return {"id": id, "ts": at(minutes), "service": service, "kind": "deploy", "status": "succeeded"} | extra


NO_COMMITS = frame("commits", [])


def run(deploys: list[dict[str, Any]], commits: pd.DataFrame = NO_COMMITS, **kwargs: Any):
    """Correlate with the default incident, onset and root service unless overridden."""
    args: dict[str, Any] = {"incident": incident(), "onset": Onset(ts=ONSET, service="payments")}
    args |= {"services": ROOT, "topology": TOPOLOGY} | kwargs
    return correlate_changes(frame("deploys", deploys), commits, **args)


def by_id(result) -> dict[str, Any]:
    """Candidates and rejected changes by id."""
    return {c.id: c for c in [*result.changes, *result.rejected]}


def test_culprit_beats_decoys_and_a_change_after_the_onset_is_rejected() -> None:
    result = run(
        [
            deploy("culprit", -5, version="v2.3.1"),
            deploy("old-unrelated", -120, service="search"),
            deploy("after", 10),
        ]
    )
    assert result.verdict == "change"
    top = result.changes[0]
    assert (top.id, top.role, top.confidence) == ("culprit", "primary", "high")
    assert top.score >= PRIMARY_THRESHOLD
    assert top.evidence[0] == "deployed payments v2.3.1 5 min before the onset in payments"
    assert top.features["minutes_before_onset"] == pytest.approx(5)
    assert top.features["service_match"] == 1.0
    rejected = {r.id: r for r in result.rejected}
    assert rejected["after"].reason == "after onset"
    assert rejected["after"].score == 0.0
    assert rejected["old-unrelated"].reason == "unrelated service, weak timing"
    assert [c.id for c in result.changes] == ["culprit"]


def test_change_within_clock_skew_after_onset_still_counts() -> None:
    result = run([deploy("skewed", 1.5)])
    assert result.changes[0].id == "skewed"
    assert "after the onset (within the clock-skew tolerance)" in result.changes[0].evidence[0]


def test_changes_older_than_the_lookback_are_rejected() -> None:
    result = run([deploy("ancient", -7 * 60)])
    assert result.verdict == "no_change_implicated"
    assert result.changes == []
    assert result.rejected[0].reason == "outside lookback"


def test_no_change_near_the_onset_means_no_change_implicated() -> None:
    result = run([deploy("early", -4 * 60), deploy("elsewhere", -3 * 60, service="search")])
    assert result.verdict == "no_change_implicated"
    assert result.changes == []
    assert {r.reason for r in result.rejected} <= {"score below threshold", "unrelated service, weak timing"}


def test_rollback_near_mitigation_raises_the_rolled_back_change() -> None:
    changes = [deploy("suspect", -40, version="v7"), deploy("dependency", -10, service="ledger")]
    plain = run(changes)
    assert plain.changes[0].id == "dependency"

    rolled = run([*changes, deploy("rb", 42, kind="rollback", version="v6")])
    found = by_id(rolled)
    assert rolled.changes[0].id == "suspect"
    assert found["suspect"].score > by_id(plain)["suspect"].score
    assert found["suspect"].features["rollback_near_mitigation"] == 1.0
    assert "rolled back at 10:42Z (rb), 3 min before mitigation" in found["suspect"].evidence
    assert found["rb"].reason.startswith("rollback of suspect")


def test_rolled_back_status_with_a_later_redeploy_counts_as_a_rollback() -> None:
    changes = [
        deploy("suspect", -40, status="rolled_back"),
        deploy("dependency", -10, service="ledger"),
        deploy("redeploy", 40, version="v6"),
    ]
    result = run(changes)
    assert result.changes[0].id == "suspect"
    assert result.changes[0].features["failed_or_rolled_back"] == 1.0
    assert result.changes[0].features["rollback_near_mitigation"] == 1.0


def test_rollback_far_from_mitigation_counts_less() -> None:
    changes = [deploy("suspect", -40)]
    near = by_id(run([*changes, deploy("rb", 44, kind="rollback")]))["suspect"]
    far = by_id(run([*changes, deploy("rb", 44, kind="rollback")], incident=incident(mitigated_at=at(200))))
    assert far["suspect"].features["rollback_near_mitigation"] < near.features["rollback_near_mitigation"]
    assert far["suspect"].score < near.score


def test_crowding_splits_the_credit_and_lowers_confidence() -> None:
    alone = run([deploy("a", -5)]).changes[0]
    crowded = run([deploy("a", -5), deploy("b", -6, kind="config"), deploy("c", -7, service="ledger")])
    top = crowded.changes[0]
    assert top.id == "a"
    assert top.score < alone.score
    assert top.features["competitors"] == 2
    assert (alone.confidence, top.confidence) == ("high", "medium")
    assert any("share the credit" in e for e in top.evidence)
    tied = run([deploy("a", -5, kind="config"), deploy("b", -5, kind="config")])
    assert tied.changes[0].confidence == "low"
    assert [c.role for c in tied.changes] == ["primary", "contributory"]


def test_topology_distance_orders_dependency_caller_and_unrelated() -> None:
    result = run(
        [
            deploy("dep", -5, service="ledger"),
            deploy("caller", -5, service="checkout"),
            deploy("far", -5, service="index"),
        ],
        services=[],
    )
    found = by_id(result)
    assert found["dep"].score > found["caller"].score > found["far"].score
    assert found["dep"].features["service_hops"] == 1


def test_reference_service_falls_back_to_onset_then_incident_services() -> None:
    changes = [deploy("in-ledger", -5, service="ledger"), deploy("in-payments", -5)]
    via_onset = run(changes, services=[], onset=Onset(ts=ONSET, service="ledger"))
    assert via_onset.changes[0].id == "in-ledger"
    via_incident = run(changes, services=[], onset=Onset(ts=ONSET))
    assert via_incident.changes[0].id == "in-payments"


def test_a_later_deploy_before_the_onset_supersedes_the_earlier_one() -> None:
    result = run([deploy("v1", -30), deploy("v2", -4)])
    found = by_id(result)
    assert result.changes[0].id == "v2"
    assert found["v1"].reason == "superseded by v2"


def test_non_production_environment_weighs_little() -> None:
    result = run(
        [deploy("staging", -3, environment="staging"), deploy("prod", -20, environment="production")]
    )
    assert result.changes[0].id == "prod"
    assert by_id(result)["staging"].score < result.changes[0].score


def commit(sha: str, minutes: float, service: str | None = "payments", **extra: Any) -> dict[str, Any]:
    """A commit record."""
    return {"sha": sha, "ts": at(minutes), "service": service, "message": "fix: retry budget"} | extra


def test_commits_without_deploy_become_commit_candidates() -> None:
    commits = frame(
        "commits", [commit("a1b2c3d4e5f6a7b8", -4, additions=900, deletions=100, files=["x.py"] * 30)]
    )
    result = run([], commits=commits)
    top = result.changes[0]
    assert (top.kind, top.id) == ("commit", "a1b2c3d4e5f6a7b8")
    assert top.features["blast_radius"] > 0.8
    assert "no deploy data: add a deploy source" in result.evidence_requests
    assert top.evidence[0].startswith("committed to payments a1b2c3d4 (fix: retry budget) 4 min before")


def test_deployed_commits_are_carried_by_their_deploy() -> None:
    commits = frame(
        "commits",
        [
            commit("deadbeef00112233", -30, additions=1500, deletions=500, files=["a.py"] * 40),
            commit("cafebabe44556677", -3),
        ],
    )
    result = run([deploy("d1", -5, sha="deadbeef")], commits=commits)
    found = by_id(result)
    assert "deadbeef00112233" not in found  # carried by d1
    assert found["d1"].features["lines"] == 2000
    assert found["cafebabe44556677"].kind == "commit"
    # payments has deploy data, so an undeployed commit there has the lower prior
    assert found["cafebabe44556677"].score < found["d1"].score


def test_same_commit_deployed_to_many_services_has_a_wide_blast_radius() -> None:
    services = ["payments", "checkout", "ledger", "search", "index"]
    result = run([deploy(f"d-{s}", -5, service=s, sha="0123456789abcdef") for s in services])
    assert by_id(result)["d-payments"].features["fanout"] == 5
    assert by_id(result)["d-payments"].features["blast_radius"] == 1.0


def test_empty_frames_ask_for_evidence() -> None:
    result = run([], onset=Onset())
    assert result.verdict == "no_change_implicated"
    assert result.changes == [] and result.rejected == []
    assert result.evidence_requests == [
        "no deploy data: add a deploy source",
        "no commit data: add a VCS source",
        "no metric onset: add metrics for payments",
    ]


def test_root_service_without_deploy_data_is_requested() -> None:
    result = run([deploy("x", -5, service="search")])
    assert "no deploy data for service payments" in result.evidence_requests


def test_missing_onset_falls_back_to_incident_start_with_lower_confidence() -> None:
    with_onset = run([deploy("culprit", -5)]).changes[0]
    without = run([deploy("culprit", -5)], onset=Onset())
    top = without.changes[0]
    assert top.id == "culprit" and top.score == with_onset.score
    assert (with_onset.confidence, top.confidence) == ("high", "medium")
    assert "before the incident start" in top.evidence[0]
    assert top.features["onset_known"] == 0.0


def test_large_frames_stay_ranked_and_bounded() -> None:
    rng = np.random.default_rng(3)
    services = ["payments", "checkout", "ledger", "search", "index"]
    deploys = [
        deploy(f"d{i}", float(m), service=services[i % 5]) for i, m in enumerate(rng.uniform(-600, -90, 300))
    ]
    deploys.append(deploy("culprit", -6))
    commits = frame(
        "commits",
        [
            commit(f"{i:016x}", float(m), service=services[i % 5])
            for i, m in enumerate(rng.uniform(-900, -90, 2000))
        ],
    )
    result = run(deploys, commits=commits)
    assert result.changes[0].id == "culprit"
    assert len(result.changes) <= 20 and len(result.rejected) <= 20
    scores = [c.score for c in result.changes]
    assert scores == sorted(scores, reverse=True)


def test_frames_read_from_a_bundle(tmp_path) -> None:
    root = write_bundle(
        tmp_path / "b",
        {"id": "INC-1", "severity": "SEV2", "services": ["payments"], "started_at": ONSET.isoformat()},
        {
            "deploys": [
                deploy("culprit", -5, version="v2.3.1", sha="abc1234def"),
                deploy("rb", 30, kind="rollback", extra_vendor_field="x"),
            ],
            "commits": [
                commit("abc1234def5678900000", -30, additions=10, deletions=5, files=["a.py", "b.py"]),
                commit("fff1234def5678900000", -8, service=None, repo="payments"),
            ],
        },
        topology=TOPOLOGY.services,
    )
    bundle = load_bundle(root)
    result = correlate_changes(
        bundle.frames["deploys"],
        bundle.frames["commits"],
        bundle.incident,
        Onset(ts=ONSET),
        ROOT,
        bundle.topology,
    )
    found = by_id(result)
    assert result.changes[0].id == "culprit"
    assert found["culprit"].features["files"] == 2 and found["culprit"].features["lines"] == 15
    assert found["fff1234def5678900000"].service == "payments"  # repo names a known service
    assert found["rb"].reason == "rollback of culprit: a mitigation"
