"""Great Expectations work in a long-lived task worker, so that a flow-run process never imports GX.

A worker starts a fresh process for every flow run, and importing GX costs that process about 2.3 s:
most of a cold validation, and more than half of a typical flow run. `postmortem validation-worker`
imports GX once and serves the two GX steps, validating a bundle and writing its Data Docs. With
`POSTMORTEM_VALIDATION_WORKER=true` the postmortem flow sends it the bundle before reading its own
copy, then the results for their Data Docs, which the worker writes into a staging folder of the data
directory while the flow analyses; publishing moves them into the report version. The flow waits at
most `POSTMORTEM_VALIDATION_TIMEOUT` seconds each. With no worker serving, or no answer in time, it
does the step in its own process and logs why: a missing worker slows a run down, never stops it.
The worker reads the same settings and `[quality]` configuration as the flow (run both with the same
environment); it reads the bundle and writes the docs by path, and results travel through Prefect's
result storage, so both must share a file system and that storage (`PREFECT_LOCAL_STORAGE_PATH`).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from prefect import Task, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.futures import PrefectDistributedFuture
from prefect.states import Cancelled

from connectors.bundle import load_bundle
from postmortem.model import QualityResult
from tasks.quality import check_quality
from tasks.quality.docs import DocsWriter, write_data_docs
from tasks.quality.runner import runner

LOCALLY = "in the flow's own process"


@task(name="validate-evidence-served", persist_result=True, cache_policy=NO_CACHE)
def validate_bundle(path: str) -> list[QualityResult]:
    """Load the bundle at `path` and run every data-quality check on it (in the validation worker)."""
    return check_quality(load_bundle(path))


@task(name="write-data-docs-served", persist_result=True, cache_policy=NO_CACHE)
def write_docs(results: list[QualityResult], folder: str, run_name: str, run_time: datetime) -> str | None:
    """Write the Data Docs of `results` into `folder` (in the validation worker): its index page."""
    index = write_data_docs(results, Path(folder), run_name, run_time)
    return str(index) if index else None


SERVED = (validate_bundle, write_docs)


def serve_validation(limit: int = 4) -> None:
    """Import GX and build its context, then serve the GX steps until interrupted."""
    from prefect.task_worker import serve  # only the worker needs it (0.25 s to import)

    runner()
    serve(*SERVED, limit=limit)


def serving_workers(served: Task[..., Any]) -> int:
    """How many task workers serve `served` now, according to the Prefect server."""
    body = {"task_worker_filter": {"task_keys": [served.task_key]}}
    with get_client(sync_client=True) as client:
        response = client.request("POST", "/task_workers/filter", json=body)
        response.raise_for_status()
        return len(response.json())


def defer(served: Task[..., Any], *args: Any) -> UUID | None:
    """Send `served(*args)` to a validation worker: its task run id; None (logged) when none serves it."""
    if not serving_workers(served):
        get_run_logger().warning("no validation worker serves %s: running it %s", served.name, LOCALLY)
        return None
    return served.delay(*args).task_run_id


def answer(task_run_id: UUID, timeout: float) -> tuple[bool, Any]:
    """(True, result) of a deferred run; (False, None), logged, when it failed or took over `timeout` s.

    A run that did not finish in time is cancelled, so that no worker picks it up later.
    """
    future: PrefectDistributedFuture[Any] = PrefectDistributedFuture(task_run_id)
    try:
        return True, future.result(timeout=timeout)
    except TimeoutError:
        get_run_logger().warning(
            "the validation worker did not answer within %g s: running %s", timeout, LOCALLY
        )
        with get_client(sync_client=True) as client:
            client.set_task_run_state(task_run_id, Cancelled(message="timed out"), force=True)
    except Exception as exc:  # running it here reproduces the failure with its own error
        get_run_logger().warning("the validation worker failed (%s): running %s", exc, LOCALLY)
    return False, None


@dataclass(frozen=True)
class StagedDocs:
    """Data Docs a validation worker is writing into `staging` (deferred task run `task_run`)."""

    task_run: UUID
    staging: str


def defer_docs(results: Sequence[QualityResult], data_dir: Path, run_name: str) -> StagedDocs | None:
    """Have a validation worker write the Data Docs of `results` into a staging folder of `data_dir`
    while the flow analyses; None (logged) when no worker serves. Call it from the flow, not from a
    task: a deferral from inside a task also stores that task's parameters (the whole bundle)."""
    staging = data_dir.resolve() / "staging" / uuid4().hex
    run = defer(write_docs, list(results), str(staging), run_name, datetime.now(UTC))
    return StagedDocs(run, str(staging)) if run is not None else None


def staged_docs_writer(staged: StagedDocs, timeout: float) -> DocsWriter:
    """A Data Docs writer that moves the worker's staged site into place, else writes the docs here."""

    def write(
        results: Sequence[QualityResult], folder: Path, run_name: str, run_time: datetime
    ) -> Path | None:
        done, index = answer(staged.task_run, timeout)
        if done and index is None:  # no GX result, no site
            return None
        if done and Path(staged.staging).is_dir():  # not there: moved by an earlier try of this publish
            folder.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(staged.staging, folder)
            return folder / Path(index).name
        return write_data_docs(results, folder, run_name, run_time)

    return write


def discard(staged: StagedDocs | None) -> None:
    """Remove a staging folder that was not moved into a report version (no new version, fallback)."""
    if staged is not None:
        shutil.rmtree(staged.staging, ignore_errors=True)
