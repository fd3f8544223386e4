"""Cleaning step: exactly the duplicates and non-numeric metric values are quarantined, inputs untouched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from connectors.bundle import Bundle, load_bundle, write_bundle
from postmortem.model import Quarantined
from tasks.clean import clean_frames, json_safe

INCIDENT: dict[str, Any] = {
    "id": "INC-3",
    "severity": "SEV3",
    "services": ["api"],
    "started_at": "2026-05-01T12:00:00Z",
    "resolved_at": "2026-05-01T13:00:00Z",
}
OLD = "2026-04-01T00:00:00Z"


def _bundle(tmp_path: Path) -> Bundle:
    datasets = {
        "deploys": [
            {"id": "d1", "ts": "2026-05-01T11:00:00Z", "kind": "deploy", "status": "succeeded"},
            {"id": "d2", "ts": "2026-05-01T11:10:00Z", "kind": "teleport", "status": "succeeded"},
            {"id": "d1", "ts": "2026-05-01T11:20:00Z", "kind": "deploy", "status": "failed", "x": {"a": 1}},
            {"id": "d3", "ts": OLD, "kind": "config"},
            {"id": "d1", "ts": "2026-05-01T11:30:00Z", "kind": "deploy"},
        ],
        "commits": [
            {"sha": "abc1234", "ts": "2026-05-01T10:00:00Z", "files": ["a.py"]},
            {"sha": "abc1234", "ts": "2026-05-01T10:01:00Z", "files": ["b.py"]},
        ],
        "alerts": [{"id": "a1", "ts": "2026-05-01T12:01:00Z"}, {"id": "a2", "ts": "2026-05-01T12:02:00Z"}],
        "tickets": [
            {"key": "T-1", "ts": "2026-05-01T12:05:00Z"},
            {"key": "T-1", "ts": "2026-05-01T12:06:00Z"},
        ],
        "metrics": [
            {"ts": "2026-05-01T12:00:00Z", "service": "api", "metric": "p99", "value": 100},  # line 2
            {"ts": "2026-05-01T12:01:00Z", "service": "api", "metric": "p99", "value": "oops"},  # line 3
            {
                "ts": "2026-05-01T12:00:00Z",
                "service": "api",
                "metric": "p99",
                "value": 101,
            },  # line 4: dup of 2
            {"ts": "2026-05-01T12:00:00Z", "service": "db", "metric": "p99", "value": 7},  # line 5
            {"ts": "2026-05-01T12:02:00Z", "service": "api", "metric": "p99", "value": "n/a"},  # line 6
            {"ts": "2026-05-01T12:02:00Z", "service": "api", "metric": "p99", "value": 103},  # line 7: kept
            {
                "ts": "2026-05-01T12:00:00Z",
                "service": "api",
                "metric": "p99",
                "value": 102,
            },  # line 8: dup of 2
            {
                "ts": "2026-05-01T12:03:00Z",
                "service": "api",
                "metric": "p99",
                "value": "NaN",
            },  # line 9: a gap
        ],
    }
    return load_bundle(write_bundle(tmp_path / "b", INCIDENT, datasets))


def _by_file(items: list[Quarantined], file: str) -> list[Quarantined]:
    return [q for q in items if q.file == file]


def test_duplicate_ids_keep_the_first_occurrence(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    frames, quarantined = clean_frames(bundle.frames, bundle.incident)
    deploys = _by_file(quarantined, "deploys.jsonl")
    assert [(q.line, q.field, q.reason) for q in deploys] == [
        (3, "id", "duplicate id d1 (first at line 1)"),
        (5, "id", "duplicate id d1 (first at line 1)"),
    ]
    assert list(frames["deploys"]["id"]) == ["d1", "d2", "d3"]
    assert list(frames["deploys"]["_line"]) == [1, 2, 4]
    assert [q.reason for q in _by_file(quarantined, "commits.jsonl")] == [
        "duplicate sha abc1234 (first at line 1)"
    ]
    assert [q.reason for q in _by_file(quarantined, "tickets.jsonl")] == [
        "duplicate key T-1 (first at line 1)"
    ]
    assert frames["commits"]["files"].tolist() == [["a.py"]]


def test_out_of_window_and_unknown_values_are_kept(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    frames, _ = clean_frames(bundle.frames, bundle.incident)
    kept = frames["deploys"].set_index("id")
    assert kept.loc["d2", "kind"] == "teleport"
    assert kept.loc["d3", "ts"] == pd.Timestamp(OLD)


def test_metric_duplicates_and_non_numeric_values(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    frames, quarantined = clean_frames(bundle.frames, bundle.incident)
    metrics = _by_file(quarantined, "metrics.csv")
    assert [(q.line, q.field) for q in metrics] == [
        (3, "value"),
        (4, "ts,service,metric"),
        (6, "value"),
        (8, "ts,service,metric"),
    ]
    assert metrics[0].reason == "value 'oops' is not numeric"
    assert metrics[1].reason == (
        "duplicate row (ts=2026-05-01T12:00:00Z, service=api, metric=p99) (first at line 2)"
    )
    assert list(frames["metrics"]["_line"]) == [2, 5, 7, 9]
    assert frames["metrics"]["value"].tolist()[:3] == [100.0, 7.0, 103.0]
    assert pd.isna(frames["metrics"]["value"].iloc[3])  # NaN is a gap, not a bad value


def test_records_are_json_safe(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    _, quarantined = clean_frames(bundle.frames, bundle.incident)
    deploy = _by_file(quarantined, "deploys.jsonl")[0].record
    assert deploy["id"] == "d1" and deploy["ts"] == "2026-05-01T11:20:00Z" and deploy["x"] == {"a": 1}
    assert deploy["sha"] is None and "_line" not in deploy
    metric = _by_file(quarantined, "metrics.csv")[0].record
    assert metric["value"] is None and metric["value_raw"] == "oops"
    json.dumps([q.model_dump(mode="json") for q in quarantined], allow_nan=False)


def test_inputs_are_not_mutated_and_clean_frames_pass_through(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    before = {name: frame.copy(deep=True) for name, frame in bundle.frames.items()}
    frames, _ = clean_frames(bundle.frames, bundle.incident)
    for name, frame in bundle.frames.items():
        pd.testing.assert_frame_equal(frame, before[name])
    assert frames["alerts"] is bundle.frames["alerts"]
    assert frames["logs"] is bundle.frames["logs"] and frames["logs"].empty
    assert frames["deploys"] is not bundle.frames["deploys"]


def test_frames_without_a_range_index_are_handled(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    shuffled = bundle.frames["deploys"].set_axis([10, 30, 20, 50, 40])
    frames, quarantined = clean_frames({"deploys": shuffled}, bundle.incident)
    assert [q.line for q in quarantined] == [3, 5]
    assert list(frames["deploys"]["_line"]) == [1, 2, 4]


def test_json_safe_values() -> None:
    assert json_safe(pd.Timestamp("2026-05-01T12:00:00+02:00")) == "2026-05-01T12:00:00+02:00"
    assert json_safe(pd.Timestamp("2026-05-01T12:00:00Z")) == "2026-05-01T12:00:00Z"
    assert json_safe(float("nan")) is None and json_safe(pd.NA) is None and json_safe(pd.NaT) is None
    assert json_safe({"a": [pd.Timestamp("2026-05-01T00:00:00Z")]}) == {"a": ["2026-05-01T00:00:00Z"]}
