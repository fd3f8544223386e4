"""The `postmortem` flow under Prefect's test harness: reports, artifacts, tickets, reruns, audit."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from postmortem.settings import get_settings
from postmortem.store import open_store
from tests.conftest import EXAMPLES

DEMO = EXAMPLES / "bad-deploy-rollback"


def _headings(text: str, marker: str) -> list[str]:
    return [line.removeprefix(marker).strip() for line in text.splitlines() if line.startswith(marker)]


async def _artifact_keys() -> set[str]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return {a.key for a in await client.read_artifacts() if a.key}


def test_flow_publishes_reports_artifacts_tickets_and_reruns_idempotently(
    prefect_harness, data_dir: Path, tmp_path: Path
) -> None:
    from flows.postmortem import postmortem

    bundle = tmp_path / "bundle"
    shutil.copytree(DEMO, bundle)
    incident_id = json.loads((bundle / "incident.json").read_text())["id"]

    first = postmortem(incident_id=incident_id, bundle=str(bundle))
    assert first["report_version"] == 1 and first["new_report_version"]
    md = Path(first["reports"]["engineering.md"])
    html = Path(first["reports"]["engineering.html"])
    assert md.parent.name == "v1" and md.is_file() and html.is_file()
    assert md.is_relative_to(data_dir)
    sections = _headings(md.read_text(), "## ")
    order = [
        "Summary",
        "Impact",
        "Root Causes",
        "Trigger",
        "Resolution",
        "Detection",
        "Action Items",
        "Lessons Learned",
        "Timeline",
    ]
    positions = [next(i for i, h in enumerate(sections) if h.startswith(name)) for name in order]
    assert positions == sorted(positions)
    assert first["tickets_created"] == first["actions_passed"] > 0

    keys = asyncio.run(_artifact_keys())
    slug = incident_id.lower()
    assert any(k.endswith("-report") and slug in k for k in keys)
    assert any(k.endswith("-root-cause") and slug in k for k in keys)

    with open_store(get_settings().db_url) as store:
        tickets_before = store.list_tickets(incident_id)

    again = postmortem(incident_id=incident_id, bundle=str(bundle), rerun_reason="test rerun")
    assert again["report_version"] == 1 and not again["new_report_version"]
    assert again["tickets_created"] == 0 and sorted(again["tickets"]) == sorted(first["tickets"])

    with (bundle / "chat.jsonl").open("a") as fh:
        fh.write(
            json.dumps({"ts": "2026-01-01T00:00:00Z", "channel": "#inc", "user": "sre", "text": "late note"})
        )
        fh.write("\n")
    changed = postmortem(incident_id=incident_id, bundle=str(bundle), rerun_reason="evidence changed")
    assert changed["report_version"] == 2 and changed["new_report_version"]
    assert changed["tickets_created"] == 0

    with open_store(get_settings().db_url) as store:
        assert len(store.list_tickets(incident_id)) == len(tickets_before)
        latest = store.latest_report_version(incident_id)
        assert latest is not None and latest.version == 2 and latest.parent_hash is not None
        verification = store.verify_audit_log()
        assert verification.ok, verification.problems
        actions = [e.action for e in store.audit_entries(subject=incident_id)]
    assert actions.count("postmortem.completed") == 3
    assert actions.count("report.published") == 2


def test_flow_rejects_a_bundle_of_another_incident(prefect_harness, data_dir: Path) -> None:
    from flows.postmortem import postmortem

    with pytest.raises(ValueError, match="not 'INC-NOPE'"):
        postmortem(incident_id="INC-NOPE", bundle=str(DEMO))
