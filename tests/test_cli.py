"""The `postmortem` CLI: analyze on the examples, bad input, value problems kept."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from postmortem.cli import main
from tests.conftest import EXAMPLES

EXAMPLE_DIRS = sorted(p for p in EXAMPLES.iterdir() if (p / "incident.json").exists())
NOW = "2026-12-01T00:00:00Z"
KEYS_6_2 = {
    "incident",
    "timeline",
    "moments",
    "durations",
    "onset",
    "root_cause",
    "similar_incidents",
    "data_quality",
    "gaps",
    "remediation",
}


def analyze_json(bundle: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    """Run `postmortem analyze BUNDLE --json` and parse its stdout."""
    code = main(["analyze", str(bundle), "--json", "--now", NOW, "--no-history"])
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out)


def test_there_are_at_least_four_examples() -> None:
    assert len(EXAMPLE_DIRS) >= 4


@pytest.mark.parametrize("bundle", EXAMPLE_DIRS, ids=lambda p: p.name)
def test_analyze_json_document_matches_ground_truth(bundle: Path, capsys) -> None:
    doc = analyze_json(bundle, capsys)
    truth = json.loads((bundle / "ground_truth.json").read_text())
    assert doc.keys() >= KEYS_6_2
    assert {"services", "changes", "metrics", "log_patterns"} <= doc["root_cause"].keys()
    stamps = [datetime.fromisoformat(e["ts"]) for e in doc["timeline"]]
    assert stamps == sorted(stamps) and len(stamps) > 20
    assert {e["source"] for e in doc["timeline"]} >= {"incident", "alerts", "deploys", "chat"}
    assert doc["durations"]["time_to_resolve"] > doc["durations"]["time_to_detect"] > 0
    assert doc["onset"]["service"] is not None
    assert doc["root_cause"]["services"][0]["service"] == truth["root_service"]
    changes = doc["root_cause"]["changes"]
    if truth["root_cause_change_id"] is None:
        assert doc["root_cause"]["verdict"] == "no_change_implicated"
        assert not any(c["role"] == "primary" for c in changes)
    else:
        assert doc["root_cause"]["verdict"] == "change"
        assert changes[0]["id"] == truth["root_cause_change_id"]
        assert changes[0]["role"] == "primary"
    assert doc["root_cause"]["log_patterns"]
    assert any(v["passed"] for v in doc["remediation"]) and not all(v["passed"] for v in doc["remediation"])


def _copy(bundle: Path, tmp_path: Path) -> Path:
    target = tmp_path / bundle.name
    shutil.copytree(bundle, target)
    return target


def _rewrite_line(file: Path, number: int, text: str) -> None:
    lines = file.read_text().splitlines()
    lines[number - 1] = text
    file.write_text("\n".join(lines) + "\n")


STRUCTURAL = {
    "no incident.json": (lambda b: (b / "incident.json").unlink(), "incident.json", None, None),
    "broken JSON line": (
        lambda b: _rewrite_line(b / "alerts.jsonl", 3, '{"id": "x", "ts": '),
        "alerts.jsonl",
        3,
        None,
    ),
    "missing ts": (
        lambda b: _rewrite_line(b / "deploys.jsonl", 2, '{"id": "d-x", "service": "api"}'),
        "deploys.jsonl",
        2,
        "ts",
    ),
    "naive timestamp": (
        lambda b: _rewrite_line(b / "chat.jsonl", 5, '{"ts": "2026-03-02T10:00:00", "text": "hi"}'),
        "chat.jsonl",
        5,
        "ts",
    ),
    "unknown severity": (
        lambda b: (b / "incident.json").write_text(
            (b / "incident.json").read_text().replace('"severity": "SEV', '"severity": "P')
        ),
        "incident.json",
        None,
        "severity",
    ),
}


@pytest.mark.parametrize("case", list(STRUCTURAL), ids=list(STRUCTURAL))
def test_structural_error_exits_2_naming_file_line_field(case: str, tmp_path: Path, capsys) -> None:
    breaker, file, line, field = STRUCTURAL[case]
    bundle = _copy(EXAMPLE_DIRS[0], tmp_path)
    breaker(bundle)
    code = main(["analyze", str(bundle), "--json"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert "Traceback" not in captured.err
    assert file in captured.err
    if line is not None:
        assert f"{file}:{line}:" in captured.err
    if field is not None:
        assert f"'{field}'" in captured.err


def test_value_problems_are_reported_not_fatal(tmp_path: Path, capsys) -> None:
    bundle = _copy(EXAMPLE_DIRS[0], tmp_path)
    deploys = (bundle / "deploys.jsonl").read_text().splitlines()
    first = json.loads(deploys[0])
    dup = dict(first, version="dup")
    odd = dict(first, id="d-odd", kind="teleport", ts="2020-01-01T00:00:00Z", vendor_field={"x": 1})
    (bundle / "deploys.jsonl").write_text("\n".join([*deploys, json.dumps(dup), json.dumps(odd)]) + "\n")
    doc = analyze_json(bundle, capsys)
    failed = {(q["source"], q["check"]): q for q in doc["data_quality"] if not q["success"]}
    assert any(src == "deploys" and "unique" in chk for src, chk in failed)
    assert any(src == "deploys" and "kind" in chk for src, chk in failed)
    assert any(src == "deploys" and "window" in chk for src, chk in failed)
    quarantined = [q for q in doc["quarantine"] if q["file"] == "deploys.jsonl"]
    assert len(quarantined) == 1 and quarantined[0]["line"] == len(deploys) + 1


def test_unknown_fields_are_kept(tmp_path: Path, capsys) -> None:
    bundle = _copy(EXAMPLE_DIRS[0], tmp_path)
    incident = json.loads((bundle / "incident.json").read_text())
    incident["x_vendor"] = {"pd_id": "Q1"}
    (bundle / "incident.json").write_text(json.dumps(incident))
    doc = analyze_json(bundle, capsys)
    assert doc["incident"]["x_vendor"] == {"pd_id": "Q1"}
