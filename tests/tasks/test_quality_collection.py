"""The collection check: failed sources in a collected bundle's manifest.json become a caveat."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from connectors.bundle import load_bundle
from tasks.quality import check_quality
from tests.conftest import EXAMPLES


def _bundle_with_manifest(tmp_path: Path, sources: list[dict]) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(EXAMPLES / "config-change", target)
    (target / "manifest.json").write_text(json.dumps({"manifest_version": 1, "sources": sources}))
    return target


def _collection(path: Path):
    return [r for r in check_quality(load_bundle(path)) if r.source == "collection"]


def test_failed_source_is_named_with_its_dataset_and_error(tmp_path: Path) -> None:
    sources = [
        {"source": "prom", "type": "prometheus", "capability": "metrics", "status": "ok", "error": None},
        {"source": "loki", "type": "loki", "capability": "logs", "status": "error", "error": "HTTP 503"},
    ]
    [result] = _collection(_bundle_with_manifest(tmp_path, sources))
    assert not result.success and result.unexpected_count == 1 and result.severity == "warn"
    assert result.details["examples"] == [
        {"source": "loki", "type": "loki", "dataset": "logs", "error": "HTTP 503"}
    ]
    assert "logs from loki (loki)" in result.details["summary"]


def test_complete_collection_passes_and_hand_made_bundle_has_no_collection_check(tmp_path: Path) -> None:
    ok = [{"source": "git", "type": "git", "capability": "commits", "status": "ok", "error": None}]
    [result] = _collection(_bundle_with_manifest(tmp_path, ok))
    assert result.success and result.details["element_count"] == 1
    assert _collection(EXAMPLES / "config-change") == []
