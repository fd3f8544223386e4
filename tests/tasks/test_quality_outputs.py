"""Where data-quality results show up: Data Docs, report, Prefect artifact, store; and no gx/ folder."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from connectors.bundle import load_bundle
from postmortem.model import QualityResult
from postmortem.settings import get_settings
from postmortem.store import Store, open_store
from reports.caveats import quality_description, quality_table
from tasks import publish
from tasks.analyze import analyze
from tasks.quality import QUALITY_CHECKS_VERSION, QualitySettings, check_quality
from tasks.quality.docs import write_data_docs
from tasks.quality.runner import _cached_runner
from tests.conftest import EXAMPLES
from tests.reports import sample
from tests.tasks.quality_data import DEFECTS, clean, write

REPO = Path(__file__).resolve().parents[2]
SETTINGS = QualitySettings()


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> list[QualityResult]:
    """Results with an unknown deploy kind, a secret-looking status and milestones out of order."""
    datasets = clean()
    datasets["deploys"] += DEFECTS["deploys"][2][1]
    datasets["deploys"] += [{**DEFECTS["deploys"][1][1][0], "id": "d10", "status": "password=Hunter2Secret"}]
    root = tmp_path_factory.mktemp("dirty")
    return check_quality(write(root, datasets, mitigated_at="2026-03-02T10:03:00Z"), settings=SETTINGS)


def _pages(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*.html")}


def test_data_docs_show_every_gx_check_with_its_offending_values(
    dirty: list[QualityResult], tmp_path: Path
) -> None:
    index = write_data_docs(dirty, tmp_path / "data-docs", "INC-9-v1")
    assert index == tmp_path / "data-docs" / "index.html" and index.is_file()
    pages = _pages(tmp_path / "data-docs")
    for dataset in ("alerts", "metrics", "logs", "commits", "deploys", "chat", "tickets", "actions"):
        assert f"expectations/{dataset}.html" in pages
        assert any(p.startswith(f"validations/{dataset}/INC-9-v1/") for p in pages), dataset
    deploys = next(text for name, text in pages.items() if name.startswith("validations/deploys/"))
    assert "teleport" in deploys and "Hunter2Secret" not in deploys and "[REDACTED]" in deploys
    assert "incident" not in {p.split("/")[1] for p in pages if p.startswith("validations/")}  # not GX
    assert sum(f.stat().st_size for f in (tmp_path / "data-docs").rglob("*") if f.is_file()) < 2_000_000


def test_no_data_docs_without_a_gx_result(tmp_path: Path) -> None:
    note = QualityResult(source="logs", check="dataset_absent", success=True, severity="info")
    assert write_data_docs([note], tmp_path / "docs", "x") is None
    assert not (tmp_path / "docs").exists()


def test_the_artifact_table_lists_failures_first_redacted(dirty: list[QualityResult]) -> None:
    rows = quality_table(dirty)
    assert len(rows) == len(dirty)
    assert [r["result"] for r in rows[:3]] == ["failed"] * 3
    assert rows[0] == {
        "source": "incident",
        "check": "milestones_in_order",
        "severity": "critical",
        "result": "failed",
        "unexpected": 1,
        "examples": rows[0]["examples"],
    }
    status = next(r for r in rows if r["check"] == "status_in_set" and r["source"] == "deploys")
    assert "Hunter2Secret" not in status["examples"] and "line 4" in status["examples"]
    assert {r["result"] for r in rows} == {"failed", "passed"}


def test_cross_source_failures_read_as_pairs_and_services() -> None:
    skew = QualityResult(
        source="cross_source",
        check="clock_skew_deploys_chat",
        success=False,
        unexpected_count=4,
        severity="critical",
        details={
            "summary": "chat clock looks shifted",
            "examples": [
                {"service": "cart", "cause": "change d1", "effect": "chat message", "lag_s": -600.0}
            ],
        },
    )
    hole = QualityResult(
        source="cross_source",
        check="telemetry_during_incident",
        success=False,
        unexpected_count=1,
        details={"examples": [{"service": "ledger", "detail": "no metric sample and no log line"}]},
    )
    rows = {r["check"]: r["examples"] for r in quality_table([skew, hole])}
    assert (
        rows["clock_skew_deploys_chat"] == "chat clock looks shifted; cart: change d1 → chat message -600 s"
    )
    assert rows["telemetry_during_incident"] == "ledger: no metric sample and no log line"


def test_the_artifact_description_carries_the_review_verdict(
    dirty: list[QualityResult], tmp_path: Path
) -> None:
    docs = tmp_path / "data-docs" / "index.html"
    text = quality_description(sample.analysis(data_quality=dirty), docs, QUALITY_CHECKS_VERSION)
    passed = sum(r.success for r in dirty)
    assert f"(checks v{QUALITY_CHECKS_VERSION}): {passed} of {len(dirty)} checks passed" in text
    assert (
        "**Needs human review**" in text and "- incident / milestones_in_order: 1 unexpected records" in text
    )
    assert f"Data Docs: `{docs}`" in text
    calm = quality_description(sample.analysis(data_quality=[r for r in dirty if r.success]), None, "2")
    assert "Needs human review" not in calm and "Data Docs" not in calm


def test_an_analysis_from_another_directory_writes_no_gx_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    _cached_runner.cache_clear()  # a fresh GX context, created in this directory
    try:
        result = analyze(load_bundle(EXAMPLES / "bad-deploy-rollback"))
        write_data_docs(result.data_quality, tmp_path / "docs", "run")
    finally:
        _cached_runner.cache_clear()
    assert result.data_quality and not (cwd / "gx").exists()
    assert list(cwd.iterdir()) == []
    assert not (REPO / "gx").exists() and not (REPO / "great_expectations").exists()


def test_publishing_writes_data_docs_beside_the_reports_and_links_them(tmp_path: Path) -> None:
    bundle = load_bundle(EXAMPLES / "bad-deploy-rollback")
    analysis = analyze(bundle)
    with Store(f"sqlite:///{tmp_path / 'pm.db'}") as store:
        first = publish.publish_reports(store, analysis, [], tmp_path / "reports")
        again = publish.publish_reports(store, analysis, [], tmp_path / "reports")
    assert first.data_docs == first.report_dir / "data-docs" / "index.html" and first.data_docs.is_file()
    assert first.report_dir.name == "v1" and again.data_docs == first.data_docs and not again.new_version
    md = first.files["engineering.md"].read_text()
    html = first.files["engineering.html"].read_text()
    assert "[data-docs/index.html](data-docs/index.html)" in md
    assert '<a href="data-docs/index.html">' in html


async def _artifacts(key_part: str) -> dict[str, object]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:  # the latest of each key: other tests publish the same incident
        found = sorted(await client.read_artifacts(), key=lambda a: a.created)
        return {a.key: a for a in found if a.key and key_part in a.key}


def test_the_flow_completes_under_review_with_results_everywhere(
    prefect_harness, data_dir: Path, tmp_path: Path
) -> None:
    from flows.postmortem import postmortem

    bundle = tmp_path / "bundle"
    shutil.copytree(EXAMPLES / "bad-deploy-rollback", bundle)
    incident = json.loads((bundle / "incident.json").read_text())
    incident["mitigated_at"] = incident["started_at"]  # before detection: milestones out of order
    (bundle / "incident.json").write_text(json.dumps(incident))
    deploys = (bundle / "deploys.jsonl").read_text().splitlines()
    (bundle / "deploys.jsonl").write_text("\n".join([*deploys, deploys[0]]) + "\n")  # a duplicate id

    summary = postmortem(incident_id=incident["id"], bundle=str(bundle))
    report = Path(summary["reports"]["engineering.md"])
    text = report.read_text()
    assert "**⚠ Needs review:**" in text and "incident / milestones_in_order: 1 unexpected records" in text
    assert (report.parent / "data-docs" / "index.html").is_file()

    with open_store(get_settings().db_url) as store:
        (run,) = store.quality_runs(incident["id"])
        stored = store.quality_results(incident["id"])
        quarantined = store.quarantine(incident["id"])
    assert run.needs_review and run.review_reasons == ["incident / milestones_in_order: 1 unexpected records"]
    assert run.quarantined == 1 and [q.line for q in quarantined] == [len(deploys) + 1]
    assert ("deploys", "id_unique") in {(r.source, r.check) for r in stored if not r.success}
    assert len(stored) == run.checks_total

    artifacts = asyncio.run(_artifacts(incident["id"].lower()))
    table = next(a for key, a in artifacts.items() if key.endswith("-data-quality"))
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert len(rows) == run.checks_total and rows[0]["severity"] == "critical"
    assert "Needs human review" in table.description and "data-docs/index.html" in table.description
