"""Dataset suites: each planted defect fails exactly its check with the right count; a clean bundle passes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from connectors.bundle import Bundle, incident_window, load_bundle, write_bundle
from postmortem.model import Incident, QualityResult, review_of
from tasks.quality import CHECK_SEVERITY, QualitySettings, build_policy, check_quality, dataset_checks
from tasks.quality.validate import validate_frame
from tests.tasks.quality_data import (
    ACTIONS,
    DEFECTS,
    GAP_SERIES,
    INCIDENT,
    INCIDENT_DEFECTS,
    OLD,
    at,
    clean,
    series,
    write,
)

REPO = Path(__file__).resolve().parents[2]
SETTINGS = QualitySettings()
POLICY = build_policy(SETTINGS)


def failures(results: list[QualityResult]) -> dict[tuple[str, str], int]:
    """Unexpected counts of the failed results by (source, check)."""
    return {(r.source, r.check): r.unexpected_count for r in results if not r.success}


def by_key(results: list[QualityResult]) -> dict[tuple[str, str], QualityResult]:
    """Every result by (source, check), checking that keys are unique."""
    keyed = {(r.source, r.check): r for r in results}
    assert len(keyed) == len(results)
    return keyed


def validate(bundle_dataset: str, bundle) -> list[QualityResult]:
    """One dataset's suite on a read-back bundle."""
    window = incident_window(bundle.incident, SETTINGS.window.before, SETTINGS.window.after)
    return validate_frame(
        bundle_dataset, bundle.frames[bundle_dataset], bundle.incident, window, SETTINGS, POLICY
    )


@pytest.fixture(scope="module")
def clean_results(tmp_path_factory: pytest.TempPathFactory) -> list[QualityResult]:
    return check_quality(write(tmp_path_factory.mktemp("clean")), settings=SETTINGS)


CASES = [
    pytest.param(name, added, check, count, id=f"{name}-{case}")
    for name, defects in DEFECTS.items()
    for case, added, check, count in defects
]


@pytest.mark.parametrize(("name", "added", "check", "count"), CASES)
def test_a_planted_defect_fails_its_check_only(
    name: str, added: list[dict], check: str, count: int, tmp_path: Path
) -> None:
    datasets = clean()
    datasets[name] = datasets[name] + added
    results = validate(name, write(tmp_path, datasets))
    assert failures(results) == {(name, check): count}
    failed = by_key(results)[(name, check)]
    assert failed.severity == CHECK_SEVERITY[f"{name}.{check}"] == "warn"
    assert failed.details["examples"], "a failure names its offending rows"
    assert all(isinstance(e["line"], int) for e in failed.details["examples"])


def test_a_metric_series_with_missed_scrapes_fails_the_gap_check(tmp_path: Path) -> None:
    datasets = clean()
    datasets["metrics"] = GAP_SERIES + series("error_rate", -5, 65)
    results = validate("metrics", write(tmp_path, datasets))
    assert failures(results) == {("metrics", "no_scrape_gap"): 1}
    (example,) = by_key(results)[("metrics", "no_scrape_gap")].details["examples"]
    assert example["value"] == {
        "service": "checkout",
        "metric": "latency_p99",
        "ts": at(30),
        "gap_intervals": 11.0,
    }
    assert example["line"] == 2 + 25  # header, then the 25 samples before the gap


@pytest.mark.parametrize("layout", ["by time", "shuffled", "by series"])
def test_gaps_and_coverage_do_not_depend_on_the_row_order(layout: str, tmp_path: Path) -> None:
    rows = GAP_SERIES + series("error_rate", -5, 65) + series("saturation", 30, 65)
    if layout == "by time":
        rows = sorted(rows, key=lambda r: r["ts"])
    elif layout == "shuffled":
        rows = [rows[(i * 37) % len(rows)] for i in range(len(rows))]  # 37 is prime to the 168 rows
    datasets = {**clean(), "metrics": rows}
    results = by_key(validate("metrics", write(tmp_path, datasets)))
    assert failures(list(results.values())) == {
        ("metrics", "no_scrape_gap"): 1,
        ("metrics", "covers_incident"): 1,
    }
    assert results[("metrics", "no_scrape_gap")].details["examples"][0]["value"]["ts"] == at(30)
    assert results[("metrics", "covers_incident")].details["examples"][0]["value"]["metric"] == "saturation"


@pytest.mark.parametrize(("case", "change", "check"), INCIDENT_DEFECTS, ids=[c[0] for c in INCIDENT_DEFECTS])
def test_incident_defects(case: str, change: dict[str, Any], check: str, tmp_path: Path) -> None:
    results = check_quality(write(tmp_path, {}, **change), settings=SETTINGS)
    assert failures(results) == {("incident", check): 1}


def test_a_clean_bundle_passes_every_check(clean_results: list[QualityResult]) -> None:
    assert failures(clean_results) == {}
    keyed = by_key(clean_results)
    dataset_keys = {(d, c.name) for d, checks in dataset_checks(SETTINGS).items() for c in checks}
    incident_keys = {tuple(k.split(".", 1)) for k in CHECK_SEVERITY if k.startswith("incident.")}
    assert set(keyed) == dataset_keys | incident_keys  # every check ran, none was skipped
    assert all(r.severity == CHECK_SEVERITY[f"{r.source}.{r.check}"] for r in clean_results)
    metrics = keyed[("metrics", "no_scrape_gap")].details
    assert metrics["element_count"] == len(clean()["metrics"])
    assert metrics["kwargs"] == {"column": "gap_intervals", "max_value": 5.0}
    assert keyed[("logs", "level_in_set")].success  # ERROR and Warn are accepted case-insensitively


def test_every_defect_at_once_fails_each_check_with_the_summed_count(tmp_path: Path) -> None:
    datasets = clean()
    expected: dict[tuple[str, str], int] = {}
    for name, defects in DEFECTS.items():
        for _, added, check, count in defects:
            datasets[name] = datasets[name] + added
            expected[(name, check)] = expected.get((name, check), 0) + count
    bundle = load_bundle(
        write_bundle(
            tmp_path,
            {**INCIDENT, "mitigated_at": at(3)},
            datasets,
            actions=[*ACTIONS, {"title": "Fix", "type": "fix"}],
        )
    )
    results = check_quality(bundle, settings=SETTINGS)
    expected |= {("actions", "type_in_set"): 1, ("incident", "milestones_in_order"): 1}
    assert failures(results) == expected
    keyed = by_key(results)
    assert keyed[("deploys", "kind_in_set")].details["examples"] == [{"line": 5, "value": "teleport"}]
    assert keyed[("metrics", "value_numeric")].details["examples"][0]["value"] == "n/a"
    dup = keyed[("metrics", "one_value_per_ts")].details["examples"]
    assert dup[0]["value"] == {"ts": at(0), "service": "checkout", "metric": "error_rate"}
    order = keyed[("incident", "milestones_in_order")]
    assert order.severity == "critical"
    assert order.details["examples"][0] == {
        "milestone": "mitigated_at",
        "value": at(3),
        "before": "acknowledged_at",
        "before_value": at(7),
    }
    json.dumps([r.model_dump(mode="json") for r in results], allow_nan=False)


def test_a_severity_outside_the_model_is_a_critical_failure() -> None:
    incident = Incident.model_validate(INCIDENT).model_copy(update={"severity": "SEV0"})  # not re-validated
    bundle = Bundle(incident, {}, present={"incident.json"})
    results = by_key(check_quality(bundle, settings=SETTINGS))
    assert not results[("incident", "severity_in_set")].success
    assert results[("incident", "severity_in_set")].severity == "critical"


def test_a_check_gx_cannot_compute_is_a_critical_failure_with_the_error(tmp_path: Path) -> None:
    bundle = write(tmp_path)
    alerts = bundle.frames["alerts"].copy()
    alerts["ends_at"] = ["soon", "later"]  # text (an in-memory frame): not comparable with `ts`
    bundle.frames["alerts"] = alerts
    results = by_key(check_quality(bundle, settings=SETTINGS))
    result = results[("alerts", "ends_after_start")]
    assert not result.success and result.severity == "critical"
    assert "Invalid comparison" in result.details["error"]
    assert results[("alerts", "id_unique")].success  # the other checks of the dataset still ran
    assert review_of(list(results.values())).needs_review


def test_absent_and_empty_datasets_are_notes(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", INCIDENT)
    (root / "chat.jsonl").write_text("")
    results = by_key(check_quality(load_bundle(root), settings=SETTINGS))
    assert not failures(list(results.values()))
    assert results[("chat", "dataset_empty")].severity == "info"
    for name in ("alerts", "metrics", "logs", "commits", "deploys", "tickets", "actions"):
        assert results[(name, "dataset_absent")].success
        assert not any(src == name and chk != "dataset_absent" for src, chk in results)


def test_the_window_argument_overrides_the_configured_window(tmp_path: Path) -> None:
    window = (datetime(2026, 3, 2, 10, 0, tzinfo=UTC), datetime(2026, 3, 2, 10, 5, tzinfo=UTC))
    failed = failures(check_quality(write(tmp_path), settings=SETTINGS, window=window))
    assert failed[("alerts", "ts_in_window")] == 1  # a2 at 10:10
    assert ("logs", "ts_in_window") not in failed  # 10:01 .. 10:03
    assert failed[("commits", "ts_in_window")] == 2


def test_without_milestones_the_window_and_coverage_checks_are_notes(tmp_path: Path) -> None:
    incident = {k: v for k, v in INCIDENT.items() if not k.endswith("_at")}
    root = write_bundle(
        tmp_path, incident, {"alerts": [{"id": "a1", "ts": OLD}], "metrics": series("p99", 0, 5)}
    )
    results = by_key(check_quality(load_bundle(root), settings=SETTINGS))
    for key in (("alerts", "ts_in_window"), ("metrics", "ts_in_window"), ("metrics", "covers_incident")):
        assert results[key].success and results[key].severity == "info"
        assert "no milestones" in results[key].details["note"]
    assert ("alerts", "covers_incident") not in results
    assert results[("incident", "milestones_in_order")].success


def test_frames_without_a_range_index_map_examples_to_their_lines(tmp_path: Path) -> None:
    datasets = clean()
    datasets["deploys"] = datasets["deploys"] + DEFECTS["deploys"][2][1]  # kind teleport at line 3
    bundle = write(tmp_path, datasets)
    bundle.frames["deploys"] = bundle.frames["deploys"].set_axis([30, 10, 20])
    kind = by_key(validate("deploys", bundle))[("deploys", "kind_in_set")]
    assert kind.details["examples"] == [{"line": 3, "value": "teleport"}]


def test_a_column_missing_from_an_in_memory_frame_reads_as_null(tmp_path: Path) -> None:
    bundle = write(tmp_path)
    bundle.frames["deploys"] = bundle.frames["deploys"].drop(columns=["environment"])
    assert failures(validate("deploys", bundle)) == {("deploys", "environment_not_null"): 2}


def test_importing_the_package_does_not_import_great_expectations() -> None:
    code = "import sys, tasks.quality, tasks.analyze; print('great_expectations' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False"


def test_metric_values_parse_once_and_nan_is_a_missed_scrape(tmp_path: Path) -> None:
    datasets = clean()
    datasets["metrics"] = [
        {**row, "value": "NaN"} if 20 <= i - 5 < 30 else row
        for i, row in enumerate(series("latency_p99", -5, 65))
    ] + series("error_rate", -5, 65)
    bundle = write(tmp_path, datasets)
    assert pd.isna(bundle.frames["metrics"]["value"].iloc[30])
    assert failures(validate("metrics", bundle)) == {("metrics", "no_scrape_gap"): 1}


def test_the_documented_checks_are_the_checks_that_run() -> None:
    text = (REPO / "docs" / "data-quality.md").read_text()
    rows = re.findall(r"^\| (\w+) \| `(\w+)` \| (\w+) \|", text, re.MULTILINE)
    assert {f"{source}.{check}": severity for source, check, severity in rows} == CHECK_SEVERITY
