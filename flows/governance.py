"""The monthly `governance` flow (first version): postmortems of the month and remediation-gate pass rates.

It says what it does not measure yet (see tasks/governance.py). The per-incident part is fanned out in
chunks by the `governance-fan-out` subflow, on threads or, given `dask_address`, on a Dask cluster.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from flows.runners import task_runner_for
from postmortem.settings import get_settings
from tasks import governance as gov


@flow(name="governance-fan-out")
def gate_fan_out(chunks: list[list[str]]) -> gov.GateStats:
    """Gate outcomes of every chunk, one task per chunk on this flow's task runner, summed."""
    db_url = get_settings().db_url  # not a parameter: flow parameters are shown in the UI
    futures = [gov.audit_chunk.submit(db_url, chunk) for chunk in chunks]
    return sum((f.result() for f in futures), gov.GateStats())


@flow(name="governance")
def governance(
    month: str | None = None, dask_address: str | None = None, chunk_size: int = 500
) -> dict[str, Any]:
    """Audit one month (YYYY-MM; default: the month before the run was scheduled) and publish a summary."""
    logger = get_run_logger()
    settings = get_settings()
    scheduled = flow_run.scheduled_start_time or datetime.now(UTC)
    period = gov.month_period(month, scheduled.astimezone(UTC))
    activity = gov.read_month_activity(settings.db_url, period)
    chunks = gov.chunked(activity.incidents, chunk_size)
    runner = task_runner_for(dask_address)
    stats = gate_fan_out.with_options(task_runner=runner)(chunks) if chunks else gov.GateStats()
    report = gov.month_report(period, activity, stats)
    create_markdown_artifact(
        key=f"governance-{period.label}",
        markdown=gov.report_markdown(report),
        description=f"Audit {period.label}",
    )
    logger.info(
        "governance %s: %d postmortems, gate pass rate %s over %d actions (%d chunks on %s); "
        "not measured yet: %s",
        period.label,
        report["postmortems"],
        report["gate_pass_rate"],
        report["actions"],
        len(chunks),
        type(runner).__name__,
        "; ".join(gov.NOT_YET),
    )
    return report
