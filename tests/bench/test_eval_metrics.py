"""The evaluation harness' metric functions and case labelling, on hand-built inputs."""

from __future__ import annotations

import math

import pytest

from bench.eval.baselines_changes import last_deploy_rank, nearest_change_rank
from bench.eval.cases import case_specs
from bench.eval.metrics import ac_at_k, avg_at_k, band_precision, lowest_threshold, rank_of, rate
from connectors.bundle import load_bundle
from postmortem.generator import Variation, generate_incident


def test_rank_of_finds_the_first_right_answer() -> None:
    assert rank_of(["a", "b", "c"], {"c", "b"}) == 2
    assert rank_of(["a"], {"z"}) is None
    assert rank_of([], {"a"}) is None


def test_ac_at_k_and_avg_at_5() -> None:
    ranks = [1, 2, None, 5, 1]
    assert ac_at_k(ranks, 1) == pytest.approx(2 / 5)
    assert ac_at_k(ranks, 3) == pytest.approx(3 / 5)
    assert ac_at_k(ranks, 5) == pytest.approx(4 / 5)
    # Avg@5 = mean(AC@1..AC@5) = (2 + 3 + 3 + 3 + 4) / 5 / 5
    assert avg_at_k(ranks, 5) == pytest.approx(15 / 25)
    assert math.isnan(ac_at_k([], 1))


def test_rate_and_band_precision() -> None:
    assert rate([True, False, False, False]) == 0.25
    assert math.isnan(rate([]))
    bands = band_precision(
        [("high", True), ("high", True), ("high", False), ("medium", True), ("medium", False), ("low", False)]
    )
    assert bands["high"] == (pytest.approx(2 / 3), 3)
    assert bands["medium"] == (0.5, 2)
    assert bands["low"] == (0.0, 1)
    assert math.isnan(band_precision([])["high"][0])


def test_lowest_threshold_keeps_every_higher_cut_above_target() -> None:
    scored = [(0.95, True), (0.9, True), (0.85, True), (0.8, True), (0.7, False), (0.6, True), (0.5, False)]
    assert lowest_threshold(scored, 0.75, min_support=2) == 0.6  # 5/6 right from 0.6 up
    assert lowest_threshold(scored, 0.9, min_support=2) == 0.8  # 4/4 right, 4/5 below
    assert lowest_threshold(scored, 0.99, min_support=10) is None  # not enough answers


def test_case_specs_are_reproducible_balanced_and_split_by_seed() -> None:
    tune, again, heldout = case_specs(14, 1), case_specs(14, 1), case_specs(14, 2)
    assert tune == again
    assert {s.seed for s in tune}.isdisjoint({s.seed for s in heldout})
    counts = {name: sum(s.scenario == name for s in tune) for name in {s.scenario for s in tune}}
    assert len(counts) == 7 and set(counts.values()) == {2}


def test_baselines_blame_the_last_deploy_and_the_nearest_change(tmp_path) -> None:
    truth = generate_incident(
        tmp_path / "b",
        "saturation",
        seed=5,
        log_lines=50,
        points_per_series=30,
        variation=Variation(extra_decoys=2),
    )
    bundle = load_bundle(tmp_path / "b")
    deploys = bundle.frames["deploys"].set_index("id")
    start = bundle.incident.started_at
    last = last_deploy_rank(bundle)
    assert last, "a saturation incident has deploys before it"
    assert deploys.loc[last[0], "ts"] <= start and deploys.loc[last[0], "kind"] in ("deploy", "rollback")
    assert list(deploys.loc[last, "ts"]) == sorted(deploys.loc[last, "ts"], reverse=True)
    nearest = nearest_change_rank(bundle)
    gaps = [abs(deploys.loc[i, "ts"] - start) for i in nearest]
    assert gaps == sorted(gaps) and len(nearest) == len(deploys)
    assert truth.root_cause_change_id is None  # the baselines blame a change all the same
