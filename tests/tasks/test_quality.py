"""Data-quality checks: one planted defect of each kind per dataset fails exactly the right check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.bundle import Bundle, load_bundle, write_bundle
from postmortem.model import QualityResult
from tasks import quality
from tasks.quality import CHECK_SEVERITY, QUALITY_CHECKS_VERSION, check_quality

REPO = Path(__file__).resolve().parents[2]

INCIDENT: dict[str, Any] = {
    "id": "INC-9",
    "title": "Checkout errors",
    "severity": "SEV2",
    "services": ["checkout"],
    "started_at": "2026-03-02T10:00:00Z",
    "detected_at": "2026-03-02T10:05:00Z",
    "acknowledged_at": "2026-03-02T10:07:00Z",
    "mitigated_at": "2026-03-02T10:40:00Z",
    "resolved_at": "2026-03-02T11:00:00Z",
}
OLD = "2026-03-01T00:00:00Z"  # before the window (04:00 .. 11:30)
SHA40 = "0123456789abcdef0123456789abcdef01234567"

CLEAN: dict[str, list[dict[str, Any]]] = {
    "alerts": [
        {"id": "a1", "ts": "2026-03-02T10:04:00Z", "ends_at": "2026-03-02T10:30:00Z", "status": "firing"},
        {"id": "a2", "ts": "2026-03-02T10:10:00Z", "status": "resolved"},
    ],
    "metrics": [
        {"ts": "2026-03-02T10:00:00Z", "service": "checkout", "metric": "latency_p99", "value": 120.0},
        {"ts": "2026-03-02T10:01:00Z", "service": "checkout", "metric": "latency_p99", "value": 900.0},
        {"ts": "2026-03-02T10:02:00Z", "service": "checkout", "metric": "latency_p99", "value": 910.5},
        {"ts": "2026-03-02T10:00:00Z", "service": "checkout", "metric": "error_rate", "value": 0.01},
    ],
    "logs": [
        {"ts": "2026-03-02T10:01:00Z", "service": "checkout", "level": "info", "message": "ok"},
        {"ts": "2026-03-02T10:02:00Z", "service": "checkout", "level": "ERROR", "message": "boom"},
        {"ts": "2026-03-02T10:03:00Z", "service": "checkout", "level": "Warn", "message": "slow"},
    ],
    "commits": [
        {"sha": SHA40, "ts": "2026-03-02T09:00:00Z", "service": "checkout"},
        {"sha": "abc1234", "ts": "2026-03-02T09:10:00Z", "service": "checkout"},
    ],
    "deploys": [
        {"id": "d1", "ts": "2026-03-02T09:55:00Z", "status": "succeeded", "kind": "deploy", "sha": "abc1234"},
        {"id": "d2", "ts": "2026-03-02T10:39:00Z", "status": "rolled_back", "kind": "rollback"},
    ],
    "chat": [{"ts": "2026-03-02T10:06:00Z", "channel": "#inc", "user": "ann", "text": "looking"}],
    "tickets": [{"key": "T-1", "ts": "2026-03-02T10:08:00Z", "title": "Checkout errors", "status": "open"}],
}
ACTIONS = [{"title": "Alert on checkout p99 > 800 ms", "type": "detect"}]

# one defect of each kind per dataset: (record, the check it must fail)
DEFECTS: dict[str, list[tuple[dict[str, Any], str]]] = {
    "alerts": [
        ({"id": "a1", "ts": "2026-03-02T10:05:00Z", "status": "firing"}, "id_unique"),
        ({"id": "a3", "ts": OLD}, "ts_in_window"),
        ({"id": "a4", "ts": "2026-03-02T10:06:00Z", "status": "pending"}, "status_in_set"),
        ({"id": "a5", "ts": "2026-03-02T10:20:00Z", "ends_at": "2026-03-02T10:10:00Z"}, "ends_after_start"),
    ],
    "metrics": [
        (
            {"ts": "2026-03-02T10:00:00Z", "service": "checkout", "metric": "latency_p99", "value": 5.0},
            "one_value_per_ts",
        ),
        (
            {"ts": "2026-03-02T10:03:00Z", "service": "checkout", "metric": "latency_p99", "value": "n/a"},
            "value_numeric",
        ),
        ({"ts": OLD, "service": "checkout", "metric": "error_rate", "value": 0.02}, "ts_in_window"),
    ],
    "logs": [
        (
            {"ts": "2026-03-02T10:04:00Z", "service": "checkout", "level": "verbose", "message": "x"},
            "level_in_set",
        ),
        ({"ts": OLD, "service": "checkout", "level": "info", "message": "old"}, "ts_in_window"),
    ],
    "commits": [
        ({"sha": SHA40, "ts": "2026-03-02T09:20:00Z"}, "sha_unique"),
        ({"sha": "not-a-sha", "ts": "2026-03-02T09:30:00Z"}, "sha_format"),
        ({"sha": "def5678", "ts": OLD}, "ts_in_window"),
    ],
    "deploys": [
        ({"id": "d1", "ts": "2026-03-02T09:56:00Z", "status": "succeeded", "kind": "deploy"}, "id_unique"),
        ({"id": "d3", "ts": "2026-03-02T09:57:00Z", "status": "exploded", "kind": "deploy"}, "status_in_set"),
        ({"id": "d4", "ts": "2026-03-02T09:58:00Z", "status": "failed", "kind": "teleport"}, "kind_in_set"),
        ({"id": "d5", "ts": "2026-03-02T09:59:00Z", "kind": "deploy", "sha": "zzz"}, "sha_format"),
        ({"id": "d6", "ts": OLD, "kind": "config"}, "ts_in_window"),
    ],
    "chat": [({"ts": OLD, "text": "old"}, "ts_in_window")],
    "tickets": [
        ({"key": "T-1", "ts": "2026-03-02T10:09:00Z"}, "key_unique"),
        ({"key": "T-2", "ts": OLD}, "ts_in_window"),
    ],
}
# a duplicate counts every row of its group, as GX does
EXPECTED_COUNT = {"id_unique": 2, "sha_unique": 2, "key_unique": 2, "one_value_per_ts": 2}


def failures(results: list[QualityResult]) -> dict[tuple[str, str], QualityResult]:
    """Failed results by (source, check)."""
    return {(r.source, r.check): r for r in results if not r.success}


def by_key(results: list[QualityResult]) -> dict[tuple[str, str], QualityResult]:
    """Every result by (source, check), checking that keys are unique."""
    keyed = {(r.source, r.check): r for r in results}
    assert len(keyed) == len(results)
    return keyed


def clean_bundle(root: Path) -> Bundle:
    """A bundle with every dataset and no defect."""
    return load_bundle(write_bundle(root, INCIDENT, CLEAN, actions=ACTIONS))


@pytest.fixture(scope="module")
def clean_results(tmp_path_factory: pytest.TempPathFactory) -> list[QualityResult]:
    return check_quality(clean_bundle(tmp_path_factory.mktemp("clean")))


@pytest.fixture(scope="module")
def dirty_results(tmp_path_factory: pytest.TempPathFactory) -> list[QualityResult]:
    datasets = {name: rows + [rec for rec, _ in DEFECTS.get(name, [])] for name, rows in CLEAN.items()}
    incident = {**INCIDENT, "mitigated_at": "2026-03-02T10:03:00Z", "services": []}
    actions = [*ACTIONS, {"title": "Fix it", "type": "fix"}]
    root = write_bundle(tmp_path_factory.mktemp("dirty"), incident, datasets, actions=actions)
    return check_quality(load_bundle(root))


def test_clean_bundle_passes_every_check(clean_results: list[QualityResult]) -> None:
    assert failures(clean_results) == {}
    checks = by_key(clean_results)
    for name in CLEAN:
        assert (name, "ts_in_window") in checks and (name, "ts_not_null") in checks
    assert checks[("metrics", "value_numeric")].details["element_count"] == len(CLEAN["metrics"])
    assert checks[("logs", "level_in_set")].success  # ERROR and Warn are accepted case-insensitively
    assert checks[("actions", "type_in_set")].success
    assert all(r.severity == CHECK_SEVERITY[r.check] for r in clean_results)
    assert QUALITY_CHECKS_VERSION == "1"


def test_each_planted_defect_fails_its_check_with_the_right_count(dirty_results: list[QualityResult]) -> None:
    expected: dict[tuple[str, str], int] = {}
    for name, defects in DEFECTS.items():
        for _, check in defects:
            key = (name, check)
            expected[key] = expected.get(key, 0) + EXPECTED_COUNT.get(check, 1)
    expected |= {
        ("actions", "type_in_set"): 1,
        ("incident", "milestones_in_order"): 1,
        ("incident", "services_not_empty"): 1,
    }
    failed = failures(dirty_results)
    assert {k: r.unexpected_count for k, r in failed.items()} == expected


def test_failures_name_offending_values_and_lines(dirty_results: list[QualityResult]) -> None:
    failed = failures(dirty_results)
    kind = failed[("deploys", "kind_in_set")]
    assert kind.details == {
        "expectation": "expect_column_values_to_be_in_set",
        "examples": [{"line": 5, "value": "teleport"}],
        "element_count": 7,
    }
    assert failed[("metrics", "value_numeric")].details["examples"] == [{"line": 7, "value": "n/a"}]
    assert failed[("logs", "level_in_set")].details["examples"] == [{"line": 4, "value": "verbose"}]
    assert failed[("commits", "sha_format")].details["examples"] == [{"line": 4, "value": "not-a-sha"}]
    assert failed[("alerts", "ts_in_window")].details["examples"] == [{"line": 4, "value": OLD}]
    dup = failed[("metrics", "one_value_per_ts")].details["examples"]
    assert [e["line"] for e in dup] == [2, 6]
    assert dup[0]["value"] == {"ts": "2026-03-02T10:00:00Z", "service": "checkout", "metric": "latency_p99"}
    assert [e["line"] for e in failed[("alerts", "id_unique")].details["examples"]] == [1, 3]
    order = failed[("incident", "milestones_in_order")]
    assert order.severity == "critical"
    assert order.details["examples"][0]["milestone"] == "mitigated_at"
    assert order.details["examples"][0]["before"] == "acknowledged_at"
    json.dumps([r.model_dump(mode="json") for r in dirty_results])


def test_severity_policy(dirty_results: list[QualityResult]) -> None:
    failed = failures(dirty_results)
    assert failed[("deploys", "kind_in_set")].severity == "warn"
    assert failed[("alerts", "ts_in_window")].severity == "warn"
    assert all(CHECK_SEVERITY[c] == "critical" for c in CHECK_SEVERITY if c.endswith("_not_null"))


def test_null_keys_are_critical(tmp_path: Path) -> None:
    bundle = clean_bundle(tmp_path / "b")
    deploys = bundle.frames["deploys"].copy()
    deploys.loc[1, "id"] = None
    bundle.frames["deploys"] = deploys
    failed = failures(check_quality(bundle))
    assert set(failed) == {("deploys", "id_not_null")}
    assert failed[("deploys", "id_not_null")].severity == "critical"
    assert failed[("deploys", "id_not_null")].details["examples"] == [{"line": 2, "value": None}]


def test_a_column_missing_from_an_in_memory_frame_reads_as_null(tmp_path: Path) -> None:
    bundle = clean_bundle(tmp_path / "b")
    bundle.frames["tickets"] = bundle.frames["tickets"].drop(columns=["key"])
    failed = failures(check_quality(bundle))
    assert set(failed) == {("tickets", "key_not_null")}
    assert failed[("tickets", "key_not_null")].details["examples"] == [{"line": 1, "value": None}]


def test_absent_and_empty_datasets_do_not_fail(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", INCIDENT)
    (root / "chat.jsonl").write_text("")
    results = by_key(check_quality(load_bundle(root)))
    assert not failures(list(results.values()))
    assert results[("chat", "dataset_empty")].severity == "info"
    for name in ("alerts", "metrics", "logs", "commits", "deploys", "tickets", "actions"):
        assert results[(name, "dataset_absent")].success
        assert not any(src == name and chk != "dataset_absent" for src, chk in results)


def test_window_argument_overrides_the_incident_window(tmp_path: Path) -> None:
    bundle = clean_bundle(tmp_path / "b")
    window = (datetime(2026, 3, 2, 10, 0, tzinfo=UTC), datetime(2026, 3, 2, 10, 5, tzinfo=UTC))
    failed = failures(check_quality(bundle, window=window))
    assert failed[("alerts", "ts_in_window")].unexpected_count == 1  # a2 at 10:10
    assert ("logs", "ts_in_window") not in failed  # 10:01 .. 10:03
    assert failed[("commits", "ts_in_window")].unexpected_count == 2


def test_incident_without_milestones_skips_the_window_check(tmp_path: Path) -> None:
    incident = {k: v for k, v in INCIDENT.items() if not k.endswith("_at")}
    root = write_bundle(tmp_path / "b", incident, {"alerts": [{"id": "a1", "ts": OLD}]})
    results = by_key(check_quality(load_bundle(root)))
    skipped = results[("alerts", "ts_in_window")]
    assert skipped.success and skipped.severity == "info" and "no milestones" in skipped.details["note"]
    assert results[("incident", "milestones_in_order")].success


def test_validation_writes_nothing_to_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    bundle = clean_bundle(tmp_path / "b")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    quality._cached_validator.cache_clear()  # a fresh GX context, created in this directory
    assert not failures(check_quality(bundle))
    assert not (cwd / "gx").exists()
    assert list(cwd.iterdir()) == []


def test_importing_the_module_does_not_import_great_expectations() -> None:
    code = "import sys, tasks.quality; print('great_expectations' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False"
