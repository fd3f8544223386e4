"""The `postmortem` flow collecting a live incident first: a real git repository and a fake Loki server."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.bundle import load_bundle
from tests.connectors.fake_loki import QUERY_RANGE, FakeLoki, Stream, ns
from tests.connectors.fakeserver import FakeServer, Reply
from tests.connectors.gitrepo import GitRepo

T0 = datetime(2025, 5, 6, 14, 0, tzinfo=UTC)
INCIDENT = {
    "id": "INC-LIVE-1",
    "title": "Payments failing",
    "severity": "SEV2",
    "services": ["payments"],
    "started_at": T0.isoformat(),
    "detected_at": (T0 + timedelta(minutes=4)).isoformat(),
    "acknowledged_at": (T0 + timedelta(minutes=6)).isoformat(),
    "mitigated_at": (T0 + timedelta(minutes=30)).isoformat(),
    "resolved_at": (T0 + timedelta(minutes=40)).isoformat(),
}
SELECTOR = '{env="prod"}'


def _streams() -> list[Stream]:
    """Quiet info lines for hours, then a burst of payment errors from the impact start."""
    t = ns(T0)
    minute = 60 * 1_000_000_000
    quiet = [(t - k * minute, f'level=info msg="charge ok" n={k}') for k in range(300, 0, -1)]
    burst = [(t + k * 5_000_000_000, f'level=error msg="gateway timeout" n={k}') for k in range(240)]
    return [Stream({"service": "payments", "env": "prod"}, quiet + burst)]


def _repo(path: Path) -> dict[str, str]:
    repo = GitRepo.init(path)
    shas = {
        "base": repo.commit("layout", {"services/payments/api.py": "T = 5\n"}, when=T0 - timedelta(days=3))
    }
    shas["old"] = repo.commit(
        "checkout: copy", {"services/checkout/ui.py": "A = 1\n"}, when=T0 - timedelta(hours=5)
    )
    shas["bad"] = repo.commit(
        "payments: cut the gateway timeout",
        {"services/payments/api.py": "T = 0.5\n"},
        when=T0 - timedelta(minutes=8),
    )
    repo.git("revert", "--no-edit", shas["bad"], when=T0 + timedelta(minutes=28))
    shas["revert"] = repo.head()
    return shas


async def _collect_task_runs(flow_run_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        TaskRunFilter,
        TaskRunFilterName,
    )

    async with get_client() as client:
        return await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="collect-evidence")),
        )


def test_flow_collects_a_live_incident_then_analyses_it(
    prefect_harness, data_dir: Path, tmp_path: Path
) -> None:
    from flows.postmortem import postmortem

    shas = _repo(tmp_path / "shop")
    incident = tmp_path / "incident.json"
    incident.write_text(json.dumps(INCIDENT))
    with FakeServer() as loki:
        loki.route("GET", QUERY_RANGE, FakeLoki({SELECTOR: _streams()}, tenant="prod"))
        config = tmp_path / "postmortem.toml"
        config.write_text(
            f'[connectors.shop]\ntype = "git"\npath = "{tmp_path / "shop"}"\n'
            '[connectors.shop.services]\npayments = ["services/payments/**"]\n'
            'checkout = ["services/checkout/**"]\n'
            f'[connectors.logs]\ntype = "loki"\nurl = "{loki.url}"\ntenant = "prod"\n'
            "limit = 100\nbackoff = 0\n"
            f"[[connectors.logs.queries]]\nname = \"prod\"\nlogql = '{SELECTOR}'\n"
        )

        summary = postmortem(incident_id="INC-LIVE-1", config=str(config), incident=str(incident))

        collection = summary["collection"]
        bundle = data_dir.resolve() / "bundles" / "INC-LIVE-1"
        assert collection["status"] == "complete" and collection["errors"] == []
        assert collection["bundle"] == str(bundle)
        assert collection["datasets"] == {"commits": 3, "logs": 540}  # layout commit is outside the window
        assert len(loki.requests_to(QUERY_RANGE)) == 6  # 540 lines in pages of 100
        manifest = json.loads((bundle / "manifest.json").read_text())
        assert manifest["status"] == "complete" and {s["source"] for s in manifest["sources"]} == {
            "shop",
            "logs",
        }
        loaded = load_bundle(bundle)
        commits = loaded.frames["commits"].set_index("sha")
        assert commits.loc[shas["bad"], "service"] == "payments"
        assert commits.loc[shas["revert"], "reverts"] == [shas["bad"]]
        assert set(loaded.frames["logs"]["level"]) == {"info", "error"}

        report = Path(summary["reports"]["engineering.md"])
        assert summary["report_version"] == 1 and summary["data_quality_failures"] == 0
        root_causes = report.read_text().split("## Root Causes", 1)[1].split("\n## ", 1)[0]
        candidates = [line for line in root_causes.splitlines() if line.startswith("| commit |")]
        assert candidates and f"`{shas['bad']}`" in candidates[0]  # the bad commit, ranked first

        # Loki failing: the collection is partial, the flow still analyses what it got
        loki.route("GET", QUERY_RANGE, Reply(503, body="Service Unavailable"))
        partial = postmortem(
            incident_id="INC-LIVE-1", config=str(config), incident=str(incident), rerun_reason="loki down"
        )
    assert partial["collection"]["status"] == "partial"
    (error,) = partial["collection"]["errors"]
    assert error.startswith("logs/logs: HttpError: query 'prod'") and "HTTP 503" in error
    assert partial["collection"]["datasets"] == {"commits": 3}
    assert "logs.jsonl" not in load_bundle(bundle).present

    # a bad config fails the run at once: the collect-evidence task is not retried
    config.write_text('[connectors.shop]\ntype = "git"\n')
    state = postmortem(
        incident_id="INC-LIVE-1", config=str(config), incident=str(incident), return_state=True
    )
    assert state.is_failed()
    with pytest.raises(ValueError, match=r"\[connectors\.shop\] field 'path': Field required"):
        state.result()
    (task_run,) = asyncio.run(_collect_task_runs(state.state_details.flow_run_id))
    assert task_run.run_count == 1
