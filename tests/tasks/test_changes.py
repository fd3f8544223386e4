"""Change correlation on synthetic deploy and commit frames with a known culprit: one test per feature."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from connectors.bundle import load_bundle, write_bundle
from connectors.bundle_format import DATASETS, empty_frame
from postmortem.model import Incident, Onset, ServiceCandidate, Topology
from tasks.change_relations import CALLER_LR, DEPENDENCY_LR, SAME_LR, UNRELATED_LR, root_weights
from tasks.changes import (
    HIGH_THRESHOLD,
    LINKED_REVERSAL_LR,
    NON_PRODUCTION_FACTOR,
    PRIMARY_THRESHOLD,
    correlate_changes,
    timing_lr,
)

ONSET = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
TOPOLOGY = Topology(
    services={
        "checkout": ["payments"],
        "payments": ["ledger"],
        "ledger": ["vault"],
        "vault": [],
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


def commit(sha: str, minutes: float, service: str | None = "payments", **extra: Any) -> dict[str, Any]:
    """A commit record."""
    return {"sha": sha, "ts": at(minutes), "service": service, "message": "fix: retry budget"} | extra


NO_COMMITS = frame("commits", [])


def run(deploys: list[dict[str, Any]], commits: pd.DataFrame = NO_COMMITS, **kwargs: Any):
    """Correlate with the default incident, onset and root service unless overridden."""
    args: dict[str, Any] = {"incident": incident(), "onset": Onset(ts=ONSET, service="payments")}
    args |= {"services": ROOT, "topology": TOPOLOGY} | kwargs
    return correlate_changes(frame("deploys", deploys), commits, **args)


def by_id(result) -> dict[str, Any]:
    """Candidates and rejected changes by id."""
    return {c.id: c for c in [*result.changes, *result.rejected]}


def background(
    n: int, service: str = "search", start: float = -350, end: float = -200
) -> list[dict[str, Any]]:
    """`n` everyday deploys of an unrelated service, well before the onset."""
    return [deploy(f"bg{i}", m, service=service) for i, m in enumerate(np.linspace(start, end, n))]


# ---------------------------------------------------------------- timing


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
    assert (top.id, top.role) == ("culprit", "primary")
    assert top.score >= PRIMARY_THRESHOLD
    assert top.evidence[0] == "deployed payments v2.3.1 5 min before the onset in payments"
    assert top.features["minutes_before_onset"] == pytest.approx(5)
    assert top.features["timing_lr"] == pytest.approx(float(timing_lr(np.array([5.0]))[0]), rel=1e-3)
    assert top.features["service_lr"] == SAME_LR
    rejected = {r.id: r for r in result.rejected}
    assert rejected["after"].reason == "after onset"
    assert rejected["after"].score == 0.0
    assert rejected["old-unrelated"].reason == "unrelated service, weak timing"


def test_timing_factor_falls_with_the_lead_and_after_the_onset() -> None:
    leads = np.array([-4.0, -1.0, 0.0, 5.0, 30.0, 120.0, 300.0])
    lr = timing_lr(leads)
    assert lr[2] == lr.max()
    assert list(lr[2:]) == sorted(lr[2:], reverse=True)  # the earlier the change, the weaker
    assert lr[0] < lr[1] < lr[2]  # recorded after the onset: clock skew, decaying fast
    assert lr[5] < 1 < lr[4]  # 2 h before is less likely than an everyday change, 30 min more


def test_change_within_clock_skew_after_onset_still_counts() -> None:
    result = run([deploy("skewed", 1.5)])
    assert result.changes[0].id == "skewed"
    assert "after the onset (within the clock-skew tolerance)" in result.changes[0].evidence[0]


def test_a_root_change_just_past_the_skew_tolerance_asks_to_check_the_clock() -> None:
    result = run([deploy("caller-change", -5, service="checkout"), deploy("late", 8)])
    assert by_id(result)["late"].reason == "after onset"
    assert result.verdict == "no_change_implicated"
    assert (
        "change late to payments is recorded 8 min after the onset: if the clock of its source is off, "
        "it may be the cause; check that clock"
    ) in result.evidence_requests


def test_changes_older_than_the_lookback_are_rejected() -> None:
    result = run([deploy("ancient", -7 * 60)])
    assert result.verdict == "no_change_implicated"
    assert result.changes == []
    assert result.rejected[0].reason == "outside lookback"


# ---------------------------------------------------------------- service along the topology


def test_topology_distance_orders_same_dependency_caller_and_unrelated() -> None:
    result = run(
        [
            deploy("same", -5),
            deploy("dep", -5, service="ledger"),
            deploy("dep2", -5, service="vault"),
            deploy("caller", -5, service="checkout"),
            deploy("far", -5, service="index"),
        ]
    )
    found = by_id(result)
    assert found["same"].score > found["dep"].score > found["dep2"].score
    assert found["dep"].score > found["caller"].score > found["far"].score
    assert found["dep"].features["service_lr"] == DEPENDENCY_LR
    assert found["dep2"].features["service_hops"] == 2
    assert found["caller"].features["service_lr"] == CALLER_LR
    assert found["far"].score < found["caller"].score
    assert "payments depends on vault (2 hops in the topology)" in found["dep2"].evidence


def test_root_is_weighed_over_the_leading_services() -> None:
    close = [ServiceCandidate(service="payments", score=0.8), ServiceCandidate(service="search", score=0.7)]
    weights = root_weights(close, Onset(), incident())
    assert weights == pytest.approx({"payments": 0.8 / 1.5, "search": 0.7 / 1.5})
    clear = [ServiceCandidate(service="payments", score=0.9), ServiceCandidate(service="search", score=0.2)]
    assert root_weights(clear, Onset(), incident()) == {"payments": 1.0}
    changes = [deploy("in-search", -5, service="search")]
    assert run(changes, services=close).changes[0].score > run(changes, services=clear).changes[0].score


def test_root_falls_back_to_onset_then_incident_services() -> None:
    changes = [deploy("in-ledger", -5, service="ledger"), deploy("in-payments", -5)]
    via_onset = run(changes, services=[], onset=Onset(ts=ONSET, service="ledger"))
    assert via_onset.changes[0].id == "in-ledger"
    via_incident = run(changes, services=[], onset=Onset(ts=ONSET))
    assert via_incident.changes[0].id == "in-payments"


def test_without_topology_other_services_are_unknown_and_topology_is_requested() -> None:
    result = run([deploy("same", -5), deploy("other", -5, service="search")], topology=Topology())
    found = by_id(result)
    assert found["other"].features["service_lr"] < found["same"].features["service_lr"] == SAME_LR
    assert found["other"].features["service_lr"] > UNRELATED_LR  # unknown is not unrelated
    assert any(r.startswith("no topology") for r in result.evidence_requests)


# ---------------------------------------------------------------- kind, status, environment


def test_rollback_records_and_undeployed_commits_weigh_less_than_deploys() -> None:
    result = run([deploy("a-deploy", -5), deploy("a-rollback", -5, kind="rollback")])
    found = by_id(result)
    assert found["a-rollback"].score < found["a-deploy"].score
    assert found["a-rollback"].features["prior_weight"] < found["a-deploy"].features["prior_weight"]


def test_failed_status_counts_as_a_partial_rollout() -> None:
    plain = run([deploy("x", -10)]).changes[0]
    failed = run([deploy("x", -10, status="failed")]).changes[0]
    assert failed.features["failed"] == 1.0 and failed.features["status_lr"] > 1
    assert failed.score > plain.score
    assert "its status is failed (a partial rollout)" in failed.evidence


def test_non_production_environment_weighs_little() -> None:
    result = run(
        [deploy("staging", -3, environment="staging"), deploy("prod", -20, environment="production")]
    )
    found = by_id(result)
    assert result.changes[0].id == "prod"
    assert found["staging"].score < found["prod"].score
    if hasattr(found["staging"], "features"):
        assert found["staging"].features["environment_factor"] == NON_PRODUCTION_FACTOR


def test_a_later_deploy_before_the_onset_supersedes_the_earlier_one() -> None:
    result = run([deploy("v1", -30), deploy("v2", -4)])
    found = by_id(result)
    assert result.changes[0].id == "v2"
    assert found["v1"].score < found["v2"].score
    v1 = found["v1"]
    if hasattr(v1, "reason"):
        assert v1.reason == "superseded by v2"
    else:
        assert v1.features["superseded"] == 1.0


# ---------------------------------------------------------------- reversal near mitigation


def test_rollback_near_mitigation_raises_the_rolled_back_change() -> None:
    changes = [deploy("suspect", -60, version="v7"), deploy("dependency", -5, service="ledger")]
    plain = run(changes)
    assert plain.changes[0].id == "dependency"
    rolled = run([*changes, deploy("rb", 42, kind="rollback", version="v6")])
    found = by_id(rolled)
    assert rolled.changes[0].id == "suspect"
    assert found["suspect"].score > by_id(plain)["suspect"].score
    assert found["suspect"].features["reversal_lr"] == LINKED_REVERSAL_LR
    assert "rolled back at 10:42Z (rb), 3 min before mitigation" in found["suspect"].evidence
    assert found["rb"].reason.startswith("rollback of suspect")


def test_a_deploy_restoring_the_previous_version_is_an_unmarked_rollback() -> None:
    changes = [
        deploy("prev", -300, version="v6"),
        deploy("suspect", -40, version="v7"),
        deploy("dependency", -10, service="ledger"),
        deploy("redeploy", 43, version="v6"),
    ]
    result = run(changes)
    suspect = by_id(result)["suspect"]
    assert result.changes[0].id == "suspect"
    assert suspect.features["reversal_lr"] == LINKED_REVERSAL_LR
    assert any("previous version came back at 10:43Z (redeploy)" in e for e in suspect.evidence)


def test_a_deploy_of_a_lower_semantic_version_is_an_unmarked_rollback() -> None:
    result = run([deploy("suspect", -40, version="v2.4.0"), deploy("older", 43, version="v2.3.9")])
    suspect = by_id(result)["suspect"]
    assert suspect.features["reversal_lr"] == LINKED_REVERSAL_LR
    assert by_id(result)["older"].reason == "rollback of suspect: a mitigation"
    upgrade = by_id(run([deploy("suspect", -40, version="v2.4.0"), deploy("newer", 43, version="v2.4.1")]))
    assert upgrade["suspect"].features["reversal_lr"] < LINKED_REVERSAL_LR  # a fix forward, not a rollback


def test_a_revert_commit_near_mitigation_links_to_the_change_it_reverts() -> None:
    commits = frame(
        "commits",
        [
            commit("aaaa1111bbbb2222", -60, message="Add batch writes"),
            commit(
                "cccc3333dddd4444", 40, message='Revert "Add batch writes"\n\nThis reverts commit aaaa1111.'
            ),
        ],
    )
    result = run(
        [deploy("suspect", -40, sha="aaaa1111"), deploy("dependency", -10, service="ledger")], commits
    )
    suspect = by_id(result)["suspect"]
    assert result.changes[0].id == "suspect"
    assert suspect.features["reversal_lr"] == LINKED_REVERSAL_LR
    assert any(e.startswith("reverted by commit cccc3333 at 10:40Z") for e in suspect.evidence)


def test_rolled_back_status_with_a_later_redeploy_counts_as_a_rollback() -> None:
    changes = [
        deploy("suspect", -40, status="rolled_back"),
        deploy("dependency", -10, service="ledger"),
        deploy("redeploy", 40, version="v6"),
    ]
    result = run(changes)
    top = result.changes[0]
    assert top.id == "suspect"
    assert top.features["reversal_lr"] > 5


def test_rollback_far_from_mitigation_counts_less() -> None:
    changes = [deploy("suspect", -40)]
    near = by_id(run([*changes, deploy("rb", 44, kind="rollback")]))["suspect"]
    far = by_id(run([*changes, deploy("rb", 44, kind="rollback")], incident=incident(mitigated_at=at(200))))
    assert far["suspect"].features["reversal_proximity"] < near.features["reversal_proximity"] == 1.0
    assert far["suspect"].score < near.score


def test_a_config_revert_is_strong_in_a_quiet_service_and_weak_in_a_busy_one() -> None:
    quiet = [deploy("cfg", -8, kind="config"), deploy("cfg-revert", 44, kind="config")]
    busy = quiet + [deploy(f"c{i}", m, kind="config") for i, m in enumerate(range(-330, -60, 20))]
    quiet_lr = by_id(run(quiet))["cfg"].features["reversal_lr"]
    busy_lr = by_id(run(busy))["cfg"].features["reversal_lr"]
    assert quiet_lr > 3 > busy_lr > 1
    assert any("may have undone it" in e for e in by_id(run(quiet))["cfg"].evidence)


# ---------------------------------------------------------------- blast radius and crowding


def test_commits_without_deploy_become_commit_candidates_and_size_counts() -> None:
    commits = frame(
        "commits",
        [
            commit("a1b2c3d4e5f6a7b8", -4, additions=900, deletions=100, files=["x.py"] * 30),
            commit("0000111122223333", -4, additions=3, deletions=1, files=["y.py"]),
            commit("4444555566667777", -4, additions=20, deletions=5, files=["z.py"] * 3),
        ],
    )
    result = run([], commits=commits)
    top, found = result.changes[0], by_id(result)
    assert (top.kind, top.id) == ("commit", "a1b2c3d4e5f6a7b8")
    assert top.features["blast_radius"] > 0.8
    # relative to the window's median change: bigger than usual raises, smaller than usual lowers
    assert top.features["blast_lr"] > 1 > found["0000111122223333"].features["blast_lr"]
    assert found["4444555566667777"].features["blast_lr"] == 1.0
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
    # payments has deploy data, so an undeployed commit there is probably not live
    assert found["cafebabe44556677"].score < found["d1"].score / 5


def test_same_commit_deployed_to_many_services_has_a_wide_blast_radius() -> None:
    services = ["payments", "checkout", "ledger", "search", "index"]
    result = run([deploy(f"d-{s}", -5, service=s, sha="0123456789abcdef") for s in services])
    assert by_id(result)["d-payments"].features["fanout"] == 5
    assert by_id(result)["d-payments"].features["blast_radius"] == 1.0


def test_crowding_splits_the_credit_and_lowers_confidence() -> None:
    alone = run([deploy("a", -5)]).changes[0]
    crowded = run([deploy("a", -5), deploy("b", -6, kind="config"), deploy("c", -5, kind="feature_flag")])
    top = crowded.changes[0]
    assert top.score < alone.score
    assert top.features["window_changes"] == 2
    assert top.features["competitors"] >= 1
    assert any("the credit in the window" in e for e in top.evidence)
    assert any("changes are about equally likely" in r for r in crowded.evidence_requests)
    tied = run([deploy("a", -5, kind="config"), deploy("b", -5, kind="config")])
    assert tied.changes[0].score == tied.changes[1].score < alone.score


def test_scores_are_probabilities_beside_no_change() -> None:
    result = run([deploy("a", -5), deploy("b", -20, service="ledger"), *background(30)])
    top = result.changes[0]
    total = sum(c.score for c in result.changes) + sum(r.score for r in result.rejected)
    assert total + top.features["no_change_probability"] <= 1.0 + 1e-3
    no_change = top.features["no_change_probability"]
    assert f"probability that no recorded change caused the incident: {no_change:.0%}" in top.evidence


# ---------------------------------------------------------------- no change implicated


def test_dependency_outage_with_changes_elsewhere_is_no_change_implicated() -> None:
    services = [ServiceCandidate(service="vault", score=0.95), ServiceCandidate(service="ledger", score=0.3)]
    changes = [deploy("decoy", -8, service="index"), deploy("old", -150, service="checkout"), *background(40)]
    result = run(changes, services=services, onset=Onset(ts=ONSET, service="vault"))
    assert result.verdict == "no_change_implicated"
    assert not any(c.role == "primary" for c in result.changes)
    assert result.no_change_probability > 0.5


def test_capacity_incident_without_any_recent_change_is_no_change_implicated() -> None:
    result = run([deploy("early", -4 * 60), deploy("elsewhere", -3 * 60, service="search")])
    assert result.verdict == "no_change_implicated"
    assert all(c.score < PRIMARY_THRESHOLD for c in result.changes)


def test_a_telling_culprit_among_everyday_changes_gets_a_high_band() -> None:
    changes = [
        deploy("culprit", -6, status="rolled_back"),
        deploy("rb", 43, kind="rollback"),
        *background(40),
    ]
    top = run(changes).changes[0]
    assert (top.id, top.role, top.confidence) == ("culprit", "primary", "high")
    assert top.score >= HIGH_THRESHOLD


# ---------------------------------------------------------------- evidence requests


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


def test_missing_versions_and_mitigation_time_are_requested() -> None:
    result = run([deploy("x", -5)], incident=incident(mitigated_at=None, resolved_at=None))
    assert "deploys of payments carry no version: an unmarked rollback cannot be recognised" in (
        result.evidence_requests
    )
    assert any(r.startswith("no mitigation time") for r in result.evidence_requests)


def test_missing_onset_falls_back_to_incident_start_with_lower_confidence() -> None:
    changes = [
        deploy("culprit", -6, status="rolled_back"),
        deploy("rb", 43, kind="rollback"),
        *background(40),
    ]
    with_onset = run(changes).changes[0]
    without = run(changes, onset=Onset())
    top = without.changes[0]
    assert top.id == "culprit" and top.score == with_onset.score
    assert (with_onset.confidence, top.confidence) == ("high", "medium")
    assert "before the incident start" in top.evidence[0]
    assert top.features["onset_known"] == 0.0


# ---------------------------------------------------------------- scale and bundles


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
                commit("fff1234def5678900000", -8, service=None, repo="acme/payments"),
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
    assert found["fff1234def5678900000"].service == "payments"  # the repo names a known service
    assert found["rb"].reason == "rollback of culprit: a mitigation"
