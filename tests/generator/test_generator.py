"""The incident generator: loadable bundles, consistent ground truth, sizes, determinism, real signal."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from connectors.bundle import Bundle, incident_window, load_bundle
from connectors.bundle_format import DATASETS
from postmortem.generator import GROUND_TRUTH, SCENARIOS, GroundTruth, generate_incident

CHANGE_SCENARIOS = [name for name, sc in SCENARIOS.items() if sc.change_kind]
NO_CHANGE_SCENARIOS = [name for name, sc in SCENARIOS.items() if not sc.change_kind]
FILES = [spec.file for spec in DATASETS.values()] + ["incident.json", "topology.json", "actions.jsonl"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Bundle, GroundTruth]]:
    """One small bundle per scenario."""
    root = tmp_path_factory.mktemp("generated")
    out = {}
    for i, name in enumerate(SCENARIOS):
        truth = generate_incident(root / name, name, seed=100 + i, log_lines=3000, points_per_series=200)
        out[name] = (load_bundle(root / name), truth)
    return out


def _robust_shift(series: pd.Series, before: pd.Series, after: pd.Series) -> float:
    """Median shift after vs before, in units of the baseline's robust spread."""
    base = series[before]
    spread = 1.4826 * (base - base.median()).abs().median() + 1e-9
    return float((series[after].median() - base.median()) / spread)


def test_at_least_six_scenarios_exist() -> None:
    expected = {
        "bad_deploy",
        "config_change",
        "feature_flag",
        "dependency_outage",
        "saturation",
        "bad_migration",
    }
    assert expected <= set(SCENARIOS)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_loads_with_every_file_and_records_in_the_window(generated, name) -> None:
    bundle, truth = generated[name]
    assert bundle.missing == []
    assert set(FILES) <= {p.name for p in bundle.path.iterdir()}
    assert (bundle.path / GROUND_TRUTH).is_file()
    for dataset, frame in bundle.frames.items():
        assert len(frame) > 0, dataset
    start, end = incident_window(bundle.incident)
    for dataset, frame in bundle.frames.items():
        assert frame["ts"].min() >= start, dataset
        assert frame["ts"].max() <= end, dataset
    milestones = [t for t in bundle.incident.milestones().values()]
    assert all(t is not None for t in milestones)
    assert milestones == sorted(milestones)
    assert abs((bundle.incident.started_at - truth.onset_ts).total_seconds()) < 60
    assert bundle.incident.title and len(bundle.incident.summary) > 80
    assert set(truth.affected_services) == set(bundle.incident.services)


@pytest.mark.parametrize("name", CHANGE_SCENARIOS)
def test_culprit_change_exists_before_onset_on_the_root_service(generated, name) -> None:
    bundle, truth = generated[name]
    deploys = bundle.frames["deploys"].set_index("id")
    culprit = deploys.loc[truth.root_cause_change_id]
    assert culprit["kind"] == SCENARIOS[name].change_kind == truth.culprit_kind
    assert culprit["service"] == truth.root_service
    assert culprit["environment"] == "production"
    assert culprit["ts"] < truth.onset_ts
    assert (truth.onset_ts - culprit["ts"]).total_seconds() < 3600
    mitigation = deploys.loc[truth.mitigation_change_id]
    assert truth.onset_ts < mitigation["ts"] <= bundle.incident.mitigated_at


def test_bad_deploy_is_rolled_back_near_mitigation(generated) -> None:
    bundle, truth = generated["bad_deploy"]
    deploys = bundle.frames["deploys"].set_index("id")
    assert deploys.loc[truth.root_cause_change_id, "status"] == "rolled_back"
    rollback = deploys.loc[truth.mitigation_change_id]
    assert rollback["kind"] == "rollback" and rollback["service"] == truth.root_service
    assert abs((bundle.incident.mitigated_at - rollback["ts"]).total_seconds()) < 300
    assert deploys.loc[truth.root_cause_change_id, "sha"] == truth.culprit_commit_shas[-1]
    assert set(truth.culprit_commit_shas) <= set(bundle.frames["commits"]["sha"])


@pytest.mark.parametrize("name", NO_CHANGE_SCENARIOS)
def test_no_change_scenarios_have_no_culprit_and_no_root_change_near_onset(generated, name) -> None:
    bundle, truth = generated[name]
    assert truth.root_cause_change_id is None
    assert truth.culprit_kind in ("dependency", "saturation")
    deploys = bundle.frames["deploys"]
    near = deploys[
        (deploys["service"] == truth.root_service)
        & (deploys["environment"] == "production")
        & (deploys["ts"] > truth.onset_ts - pd.Timedelta(hours=3))
        & (deploys["ts"] < truth.onset_ts)
    ]
    assert near.empty
    decoys = deploys.set_index("id").loc[truth.decoy_change_ids]
    assert (decoys["service"] != truth.root_service).all()
    assert ((truth.onset_ts - decoys["ts"]).dt.total_seconds().abs() < 3600).all()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_topology_connects_root_to_every_affected_caller(generated, name) -> None:
    bundle, truth = generated[name]
    calls = bundle.topology.services
    assert 6 <= len(calls) <= 15
    assert truth.affected_services[0] == truth.root_service
    for service in truth.affected_services[1:]:
        assert any(callee in truth.affected_services for callee in calls[service]), service
        assert truth.service_onsets[service] > truth.onset_ts


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_root_metric_deviates_after_onset_and_unaffected_errors_do_not(generated, name) -> None:
    bundle, truth = generated[name]
    metrics = bundle.frames["metrics"]
    series = metrics[(metrics["service"] == truth.root_service) & (metrics["metric"] == truth.onset_metric)]
    series = series.set_index("ts")["value"].sort_index()
    quiet_until = truth.precursor_ts or truth.onset_ts - pd.Timedelta(minutes=30)
    before = series.index < quiet_until
    after = (series.index > truth.onset_ts + pd.Timedelta(minutes=10)) & (
        series.index < bundle.incident.mitigated_at
    )
    assert before.sum() > 20 and after.sum() > 5
    assert _robust_shift(series, before, after) > 5
    mitigated = bundle.incident.mitigated_at
    for (service, metric), frame in metrics.groupby(["service", "metric"]):
        if service in truth.affected_services or not metric.endswith("error_rate"):
            continue
        values = frame.set_index("ts")["value"].sort_index()
        during = (values.index > truth.onset_ts) & (values.index < mitigated)
        shift = _robust_shift(values, values.index < quiet_until, during)
        assert abs(shift) < 4, service


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_error_burst_of_new_templates_after_onset(generated, name) -> None:
    bundle, truth = generated[name]
    logs = bundle.frames["logs"]
    prefix = truth.root_log_templates[0].split("<")[0]
    hits = logs[logs["message"].str.startswith(prefix)]
    assert len(hits) > 10
    assert (hits["ts"] >= truth.onset_ts).all()
    errors = logs[logs["level"] == "error"]
    assert (errors["ts"] >= truth.onset_ts).mean() > 0.5
    assert logs["message"].nunique() > len(logs) * 0.5  # variable parts make lines distinct


def test_alerts_flap_and_include_unrelated_noise(generated) -> None:
    bundle, truth = generated["bad_deploy"]
    alerts = bundle.frames["alerts"]
    per_rule = alerts[alerts["service"].isin(truth.affected_services)].groupby(["name", "service"]).size()
    assert (per_rule > 1).any()
    assert (~alerts["service"].isin(truth.affected_services)).sum() > 10
    assert alerts["labels"].map(lambda labels: "alertname" in labels).all()
    assert alerts["url"].str.startswith("https://").all()
    pages = alerts[(alerts["severity"] == "critical") & (alerts["ts"] >= truth.onset_ts)]
    assert pages["ts"].min() == bundle.incident.detected_at


def test_actions_mix_good_and_bad(generated) -> None:
    bundle, _ = generated["saturation"]
    good = [
        a
        for a in bundle.actions
        if a.owner and a.due and a.due >= date(2027, 1, 1) and a.type and a.hypothesis and a.rollback_plan
    ]
    bad = [
        a for a in bundle.actions if not a.owner or not a.due or a.due < date(2026, 1, 1) or not a.hypothesis
    ]
    assert len(good) >= 2 and len(bad) >= 2


def test_commits_and_changes_are_well_formed(generated) -> None:
    bundle, _ = generated["config_change"]
    commits, deploys = bundle.frames["commits"], bundle.frames["deploys"]
    assert commits["sha"].str.fullmatch(r"[0-9a-f]{40}").all()
    assert commits["sha"].is_unique and deploys["id"].is_unique
    assert (commits["files"].map(len) > 0).all()
    assert set(deploys["kind"]) <= {"deploy", "rollback", "config", "feature_flag", "infra", "migration"}
    assert set(deploys["status"]) <= {"succeeded", "failed", "rolled_back"}
    shipped = deploys[(deploys["kind"] == "deploy") & deploys["sha"].isin(commits["sha"])]
    assert len(shipped) > 0
    sha_ts = commits.set_index("sha")["ts"]
    assert (shipped["sha"].map(sha_ts) < shipped["ts"]).all()


def test_sizes_are_honoured(tmp_path: Path) -> None:
    generate_incident(
        tmp_path / "b",
        "bad_deploy",
        seed=3,
        log_lines=1234,
        metric_series=120,
        points_per_series=50,
        commits=77,
        deploys=23,
    )
    bundle = load_bundle(tmp_path / "b")
    assert len(bundle.frames["logs"]) == 1234
    assert len(bundle.frames["commits"]) == 77
    assert len(bundle.frames["deploys"]) == 23
    sizes = bundle.frames["metrics"].groupby(["service", "metric"]).size()
    assert len(sizes) == 120
    assert sizes.max() == 50 and (sizes == 50).sum() >= 119  # one series may miss a few scrapes
    generate_incident(
        tmp_path / "c", "saturation", seed=3, log_lines=10, metric_series=7, points_per_series=20
    )
    small = load_bundle(tmp_path / "c").frames["metrics"]
    assert small.groupby(["service", "metric"]).ngroups == 7


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def test_same_seed_gives_identical_files_and_other_seeds_differ(tmp_path: Path) -> None:
    kwargs = {"log_lines": 800, "points_per_series": 60}
    generate_incident(tmp_path / "a", "dependency_outage", seed=5, **kwargs)
    generate_incident(tmp_path / "b", "dependency_outage", seed=5, **kwargs)
    generate_incident(tmp_path / "c", "dependency_outage", seed=6, **kwargs)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    first, other = _files(tmp_path / "a"), _files(tmp_path / "c")
    assert all(first[name] != other[name] for name in first)


def test_story_does_not_depend_on_sizes(tmp_path: Path) -> None:
    small = generate_incident(tmp_path / "s", "feature_flag", seed=9, log_lines=100, points_per_series=30)
    large = generate_incident(
        tmp_path / "l", "feature_flag", seed=9, log_lines=5000, commits=900, metric_series=90
    )
    assert small.model_dump(exclude={"dropped_sources"}) == large.model_dump(exclude={"dropped_sources"})
    assert (tmp_path / "s" / "incident.json").read_bytes() == (tmp_path / "l" / "incident.json").read_bytes()


def test_drop_sources_leaves_files_out_and_rejects_unknown_names(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "logs.jsonl").write_text("stale\n")
    truth = generate_incident(
        tmp_path / "b", "bad_migration", seed=1, log_lines=50, drop_sources={"deploys", "logs"}
    )
    bundle = load_bundle(tmp_path / "b")
    assert {"deploys.jsonl", "logs.jsonl"} <= set(bundle.missing)
    assert truth.dropped_sources == ["deploys", "logs"]
    with pytest.raises(ValueError, match="unknown source"):
        generate_incident(tmp_path / "x", "bad_deploy", drop_sources={"pagers"})
    with pytest.raises(ValueError, match="unknown scenario"):
        generate_incident(tmp_path / "x", "meteor_strike")


def test_ground_truth_file_round_trips(generated) -> None:
    bundle, truth = generated["feature_flag"]
    stored = GroundTruth.model_validate(json.loads((bundle.path / GROUND_TRUTH).read_text()))
    assert stored == truth
    assert stored.incident_id == bundle.incident.id
