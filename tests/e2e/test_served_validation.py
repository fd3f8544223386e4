"""Validation served by `postmortem validation-worker`: the flow-run process never imports GX.

Real processes: `prefect server start`, the validation worker, and each flow run in a fresh Python
process (as a worker's flow-run process); both share Prefect's local result storage.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.bundle import load_bundle
from postmortem.store import open_store
from tasks.quality import check_quality
from tests.e2e.stack import REPO, Stack

BUNDLE = REPO / "examples" / "bad-deploy-rollback"
INCIDENT = json.loads((BUNDLE / "incident.json").read_text())["id"]
CHILD = """
import json, sys
from flows.postmortem import postmortem
state = postmortem(incident_id=sys.argv[1], bundle=sys.argv[2], return_state=True)
print(json.dumps({"state": state.type.value, "gx_imported": "great_expectations" in sys.modules}))
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A Prefect server with a validation worker, sharing result storage with the flow processes."""
    stack = Stack(tmp_path_factory.mktemp("served"))
    try:
        stack.start_prefect_server()
        stack.start_validation_worker(stack.client_env("worker", PREFECT_LOCAL_STORAGE_PATH=storage(stack)))
        yield stack
    finally:
        stack.stop()


def storage(stack: Stack) -> str:
    return str(stack.root / "results")


def run_flow(stack: Stack, data: Path, **env: str) -> tuple[dict, str]:
    """The postmortem flow on BUNDLE in a fresh process with the worker setting on: its answer and log."""
    environment = stack.client_env(
        "flow",
        PREFECT_LOCAL_STORAGE_PATH=storage(stack),
        POSTMORTEM_DATA_DIR=str(data),
        POSTMORTEM_VALIDATION_WORKER="true",
        **env,
    )
    done = subprocess.run(
        [sys.executable, "-c", CHILD, INCIDENT, str(BUNDLE)],
        env=environment,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr + stack.tails()
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stdout + done.stderr


def served_runs(stack: Stack) -> list[dict]:
    """The task runs of the served GX steps (validation, Data Docs) on the server."""
    body = {"task_runs": {"name": {"like_": "-served-"}}, "limit": 50}
    return stack.api("POST", "/task_runs/filter", json=body)


def test_the_worker_validates_and_the_flow_process_never_imports_gx(stack: Stack, tmp_path: Path) -> None:
    before = {r["id"] for r in served_runs(stack)}
    answer, log = run_flow(stack, tmp_path / "data")
    assert answer == {"state": "COMPLETED", "gx_imported": False}, log
    runs = [r for r in served_runs(stack) if r["id"] not in before]  # this run's, whatever ran before
    assert Counter(r["name"].rsplit("-", 1)[0] for r in runs) == Counter(
        ["validate-evidence-served", "write-data-docs-served"]
    )
    assert all(r["state_type"] == "COMPLETED" for r in runs)
    docs = tmp_path / "data" / "reports" / INCIDENT / "v1" / "data-docs"
    assert (docs / "index.html").is_file() and list((docs / "validations").rglob("*.html"))
    assert not list((tmp_path / "data" / "staging").iterdir())  # the staged docs were moved, not copied
    # what travels through result storage is results and paths: a deferral from inside a task would also
    # store that task's parameters, the whole bundle (1.6 MB here)
    sizes = {f.name: f.stat().st_size for f in Path(storage(stack)).rglob("*") if f.is_file()}
    assert sizes and max(sizes.values()) < 100_000, sizes
    expected = {
        (r.source, r.check): (r.success, r.unexpected_count) for r in check_quality(load_bundle(BUNDLE))
    }
    with open_store(f"sqlite:///{tmp_path / 'data' / 'postmortem.db'}") as store:
        stored = {
            (r.source, r.check): (r.success, r.unexpected_count) for r in store.quality_results(INCIDENT)
        }
    assert {k: stored.get(k) for k in expected} == expected
    assert any(not ok for ok, _ in expected.values())  # the example's evidence has findings to carry over


def test_a_worker_that_does_not_answer_in_time_means_validating_in_the_flow(
    stack: Stack, tmp_path: Path
) -> None:
    answer, log = run_flow(stack, tmp_path / "data", POSTMORTEM_VALIDATION_TIMEOUT="0")
    assert answer == {"state": "COMPLETED", "gx_imported": True}, log
    assert "did not answer within 0 s: running in the flow's own process" in log


def test_without_a_serving_worker_the_flow_validates_in_its_own_process(tmp_path: Path) -> None:
    stack = Stack(tmp_path / "stack")
    try:
        stack.start_prefect_server()
        answer, log = run_flow(stack, tmp_path / "data")
        runs = served_runs(stack)
    finally:
        stack.stop()
    assert answer == {"state": "COMPLETED", "gx_imported": True}, log
    assert "no validation worker serves validate-evidence-served" in log
    assert runs == []
