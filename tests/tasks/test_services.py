"""Service ranking: onset order, deviation size and the call graph, with logs for timing and metric gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from postmortem.model import Incident, LogPattern, MetricCandidate, Topology
from tasks.onset import detect_onsets
from tasks.services import rank_services

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)  # first sample
STEP = timedelta(minutes=1)
N = 360
IMPACT = 240
CHAIN = Topology(services={"web": ["api"], "api": ["db"], "db": []})


def at(i: float) -> datetime:
    """Time of sample `i` (fractions for log lines between samples)."""
    return T0 + i * STEP


def incident(**fields: Any) -> Incident:
    """An incident recorded as starting at the true onset and resolved an hour later."""
    values = {"started_at": at(IMPACT), "resolved_at": at(IMPACT + 60)}
    return Incident(id="INC-1", severity="SEV2", **(values | fields))


def cand(service: str, minutes: float, score: float, metric: str = "m") -> MetricCandidate:
    """A metric candidate `minutes` after the true onset."""
    return MetricCandidate(service=service, metric=metric, score=score, onset=at(IMPACT + minutes))


def pattern(
    service: str, minutes: float, *, new: bool = True, score: float = 0.8, count: int = 30
) -> LogPattern:
    """A log pattern of `service` first seen `minutes` after the true onset."""
    return LogPattern(
        template=f"{service} request failed: <*>",
        service=service,
        count=count,
        first_seen=at(IMPACT + minutes),
        score=score,
        baseline_count=0 if new else 40,
        new=new,
    )


def names(ranked: list) -> list[str]:
    """The ranked service names."""
    return [s.service for s in ranked]


# ---------------------------------------------------------------- from metric series, end to end


def metric_frame(rise: dict[tuple[str, str], tuple[int, float]], seed: int = 0) -> pd.DataFrame:
    """Noisy series for (service, metric); those in `rise` step up by `size` from their sample index."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, (service, metric) in enumerate(
        [("web", "errors"), ("web", "latency"), ("api", "errors"), ("api", "latency"), ("db", "latency")]
    ):
        values = 100 + rng.normal(0, 2, N)
        if (service, metric) in rise:
            start, size = rise[(service, metric)]
            values[start:] += size
        ts = pd.Series([at(i) for i in range(N)], dtype="datetime64[ns, UTC]")
        parts.append(pd.DataFrame({"ts": ts, "service": service, "metric": metric, "value": values, "k": k}))
    return pd.concat(parts, ignore_index=True).drop(columns="k")


def test_fault_propagating_up_the_call_graph_is_traced_to_its_root() -> None:
    # db slows at 240; api (which calls db) errs 2 min later, web (which calls api) 4 min later and louder
    rise = {("db", "latency"): (IMPACT, 40.0), ("api", "errors"): (IMPACT + 2, 60.0)}
    rise |= {("web", "errors"): (IMPACT + 4, 200.0), ("web", "latency"): (IMPACT + 5, 90.0)}
    candidates = detect_onsets(metric_frame(rise), incident())
    ranked = rank_services(candidates, CHAIN, incident(services=["web"]))
    assert names(ranked) == ["db", "api", "web"]
    root = " | ".join(ranked[0].evidence)
    assert "propagation path: db -> api -> web" in root
    assert "latency deviated at 12:00Z, 2 min before its caller api" in root
    assert "it calls no other service" in root
    assert any(
        "its dependency db deviated first, at 12:00Z: likely a symptom" in e for e in ranked[1].evidence
    )
    assert ranked[0].score > ranked[1].score > ranked[2].score > 0


def test_caller_with_healthy_dependencies_is_the_root_even_when_a_caller_deviates_more() -> None:
    rise = {("api", "errors"): (IMPACT, 30.0), ("web", "errors"): (IMPACT + 3, 300.0)}
    candidates = detect_onsets(metric_frame(rise), incident())
    ranked = rank_services(candidates, CHAIN, incident(services=["web", "api", "db"]))
    assert names(ranked) == ["api", "web", "db"]
    assert "its dependency db looks healthy" in ranked[0].evidence
    assert "propagation path: api -> web" in ranked[0].evidence
    assert ranked[-1].score == 0.0 and "no sustained metric deviation" in ranked[-1].evidence[0]


# ---------------------------------------------------------------- rules, on metric candidates


def test_dependency_deviating_at_the_same_time_takes_the_blame() -> None:
    ranked = rank_services([cand("api", 0, 0.95), cand("db", 1, 0.8)], CHAIN, incident())
    assert names(ranked)[0] == "db"  # within the sampling skew: api is a symptom


def test_weak_dependency_blip_does_not_make_the_caller_a_symptom() -> None:
    ranked = rank_services([cand("api", 0, 0.95), cand("db", -3, 0.3)], CHAIN, incident())
    assert names(ranked)[0] == "api"


def test_a_dependency_blip_long_before_the_cascade_neither_blames_nor_delays_the_root() -> None:
    topology = Topology(services={"web": ["api"], "api": ["db", "cache"], "db": [], "cache": []})
    candidates = [cand("cache", -11, 0.56), cand("api", 0, 0.95), cand("web", 1, 0.97)]
    ranked = rank_services(candidates, topology, incident())
    assert names(ranked) == ["api", "cache", "web"]
    blip = "cache deviated 11 min earlier, too early to have caused it"
    assert f"its dependencies look healthy at the time: {blip}" in ranked[0].evidence
    assert "propagation path: api -> web" in ranked[0].evidence
    assert not any("propagation path" in e for e in ranked[1].evidence)  # the blip explains nothing
    assert ranked[0].score > 0.8  # its timing is measured from the cascade, not from the blip


def test_without_topology_the_earlier_service_wins_over_a_slightly_larger_later_one() -> None:
    ranked = rank_services([cand("edge", 1, 0.99), cand("orders", 0, 0.9)], Topology(), incident())
    assert names(ranked) == ["orders", "edge"]
    assert any("not in the topology" in e for e in ranked[0].evidence)


def test_services_on_the_same_sample_are_ordered_by_their_first_new_error_log() -> None:
    candidates = [cand("gateway", 1, 0.97), cand("accounts", 1, 0.91)]
    assert names(rank_services(candidates, Topology(), incident()))[0] == "gateway"  # size alone
    logs = [pattern("accounts", 0.55), pattern("gateway", 0.9)]  # accounts' errors began 21 s earlier
    ranked = rank_services(candidates, Topology(), incident(), logs, observed={"gateway", "accounts"})
    assert names(ranked) == ["accounts", "gateway"]
    assert "new log template from 12:00:33Z: 'accounts request failed: <*>' (30 lines)" in ranked[0].evidence


def test_log_timing_does_not_reorder_services_on_different_samples() -> None:
    candidates = [cand("a", 0, 0.9), cand("b", 3, 0.9)]
    logs = [pattern("a", 0.9), pattern("b", -2)]  # b logs earlier, but its metrics deviated 3 samples later
    ranked = rank_services(candidates, Topology(), incident(), logs, observed={"a", "b"})
    assert names(ranked) == ["a", "b"]


def test_logs_stand_in_for_missing_metrics() -> None:
    # no metric data at all: new error templates date the services, the call graph picks the root
    logs = [pattern("web", 3), pattern("api", 1), pattern("db", 0.2), pattern("db", 5, new=False, count=2)]
    ranked = rank_services([], CHAIN, incident(services=["web"]), logs, observed=set())
    assert names(ranked) == ["db", "api", "web"]
    assert "propagation path: db -> api -> web" in ranked[0].evidence
    assert (
        ranked[0].evidence[0]
        == "log template 'db request failed: <*>' deviated at 12:00:12Z, 48 s before its caller api"
    )


def test_logs_do_not_make_a_service_with_healthy_metrics_anomalous() -> None:
    # db has metric data that did not deviate; its new log lines alone must not blame it
    logs = [pattern("db", -1)]
    ranked = rank_services([cand("api", 0, 0.9)], CHAIN, incident(), logs, observed={"api", "db"})
    assert names(ranked) == ["api"]
    assert "its dependency db looks healthy" in ranked[0].evidence


def test_weak_or_sparse_log_patterns_are_ignored() -> None:
    logs = [pattern("db", 0, score=0.3), pattern("api", 0, count=2)]
    assert rank_services([], CHAIN, incident(), logs, observed=set()) == []


@pytest.mark.parametrize("services", [[], ["api"]])
def test_no_signals(services: list[str]) -> None:
    ranked = rank_services([], CHAIN, incident(services=services))
    assert names(ranked) == services
