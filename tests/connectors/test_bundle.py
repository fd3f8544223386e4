"""Bundle v1 reader: strict structure, tolerant values, nothing dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from connectors.bundle import load_bundle, write_bundle
from connectors.bundle_format import BundleError

INCIDENT = {
    "id": "INC-7",
    "title": "Checkout errors",
    "severity": "SEV2",
    "services": ["checkout"],
    "started_at": "2026-03-02T10:00:00Z",
    "resolved_at": "2026-03-02T11:00:00Z",
}


def _bundle(tmp_path: Path, **files: str) -> Path:
    root = write_bundle(tmp_path / "b", INCIDENT)
    for name, text in files.items():
        (root / name.replace("_", ".", 1)).write_text(text)
    return root


def _error(path: Path) -> BundleError:
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    return info.value


def test_round_trip_keeps_unknown_fields_and_converts_offsets_to_utc(tmp_path: Path) -> None:
    alerts = [
        {"id": "a1", "ts": "2026-03-02T12:05:00+02:00", "name": "Err", "vendor": {"x": 1}},
        {"id": "a2", "ts": "2026-03-02T10:06:00Z", "labels": {"team": "pay"}},
    ]
    root = write_bundle(
        tmp_path / "b", {**INCIDENT, "x_extra": 5}, {"alerts": alerts}, topology={"web": ["checkout"]}
    )
    bundle = load_bundle(root)
    frame = bundle.frames["alerts"]
    assert list(frame["ts"]) == [pd.Timestamp("2026-03-02T10:05:00Z"), pd.Timestamp("2026-03-02T10:06:00Z")]
    assert frame.loc[0, "vendor"] == {"x": 1}
    assert list(frame["_line"]) == [1, 2]
    assert bundle.incident.model_extra == {"x_extra": 5}
    assert bundle.topology.services == {"web": ["checkout"]}
    assert "logs.jsonl" in bundle.missing and "alerts.jsonl" in bundle.present
    assert bundle.frames["logs"].empty and "ts" in bundle.frames["logs"].columns


def test_blank_lines_and_mixed_types_use_exact_line_numbers(tmp_path: Path) -> None:
    text = (
        '{"id":"a1","ts":"2026-03-02T10:05:00Z","labels":{"a":1}}\n\n'
        '{"id":"a2","ts":"2026-03-02T10:06:00Z","labels":{"a":"x"}}\n'
    )
    bundle = load_bundle(_bundle(tmp_path, alerts_jsonl=text))
    assert list(bundle.frames["alerts"]["_line"]) == [1, 3]


@pytest.mark.parametrize(
    ("files", "where", "field"),
    [
        (
            {"alerts_jsonl": '{"id":"a","ts":"2026-03-02T10:00:00Z"}\n{"id": "b", "ts": \n'},
            "alerts.jsonl:2",
            None,
        ),
        ({"alerts_jsonl": '{"id":"a","ts":"2026-03-02T10:00:00Z"}\n[1, 2]\n'}, "alerts.jsonl:2", None),
        (
            {"deploys_jsonl": '{"id":"d1","ts":"2026-03-02T10:00:00Z"}\n{"ts":"2026-03-02T10:01:00Z"}\n'},
            "deploys.jsonl:2",
            "id",
        ),
        (
            {"logs_jsonl": '{"ts":"2026-03-02T10:00:00Z"}\n{"ts":"2026-03-02T10:00:01"}\n'},
            "logs.jsonl:2",
            "ts",
        ),
        ({"chat_jsonl": '{"ts":"yesterday at noon+01:00"}\n'}, "chat.jsonl:1", "ts"),
        ({"commits_jsonl": '{"sha":"abc1234","ts":1700000000}\n'}, "commits.jsonl:1", "ts"),
        ({"metrics_csv": "ts,service,value\n2026-03-02T10:00:00Z,api,1\n"}, "metrics.csv:1", "metric"),
        (
            {
                "metrics_csv": "ts,service,metric,value\n2026-03-02T10:00:00Z,api,err,1\n"
                "2026-03-02T10:01:00,api,err,1\n"
            },
            "metrics.csv:3",
            "ts",
        ),
        ({"topology_json": '{"services": ["a", "b"]}'}, "topology.json:1", "services"),
        ({"actions_jsonl": '{"title": "Add alert"}\n{"owner": "ana"}\n'}, "actions.jsonl:2", "title"),
    ],
)
def test_structural_errors_name_file_line_and_field(tmp_path: Path, files, where, field) -> None:
    err = _error(_bundle(tmp_path, **files))
    assert str(err).startswith(where + ":")
    assert err.field == field


def test_incident_errors(tmp_path: Path) -> None:
    root = _bundle(tmp_path)
    (root / "incident.json").write_text(json.dumps({**INCIDENT, "severity": "P1"}, indent=1))
    err = _error(root)
    assert err.field == "severity" and err.line == 4 and "'P1'" in str(err)
    (root / "incident.json").write_text(json.dumps({**INCIDENT, "detected_at": "2026-03-02T10:10:00"}))
    assert _error(root).field == "detected_at"
    (root / "incident.json").write_text('{"id": "x",\n "severity": }')
    assert _error(root).line == 2
    (root / "incident.json").unlink()
    assert str(_error(root)).startswith("incident.json:")


def test_value_problems_are_kept_for_quality_checks(tmp_path: Path) -> None:
    deploys = (
        '{"id":"d1","ts":"2026-03-02T09:50:00Z","kind":"teleport","status":"meh"}\n'
        '{"id":"d1","ts":"2020-01-01T00:00:00Z"}\n'
    )
    metrics = "ts,service,metric,value\n2026-03-02T10:00:00Z,api,err,1\n2026-03-02T10:00:00Z,api,err,n/a\n"
    bundle = load_bundle(_bundle(tmp_path, deploys_jsonl=deploys, metrics_csv=metrics))
    kinds = bundle.frames["deploys"]["kind"]
    assert kinds[0] == "teleport" and pd.isna(kinds[1])
    assert len(bundle.frames["deploys"]) == 2
    values = bundle.frames["metrics"]
    assert values["value"].isna().tolist() == [False, True]
    assert values.loc[1, "value_raw"] == "n/a" and values.loc[1, "_line"] == 3


def test_invalid_action_field_is_nulled_and_recorded(tmp_path: Path) -> None:
    root = _bundle(tmp_path, actions_jsonl='{"title": "Add alert", "due": "next week", "owner": "ana"}\n')
    (action,) = load_bundle(root).actions
    assert action.due is None and action.owner == "ana"
    assert action.invalid_fields == {"due": "next week"}
