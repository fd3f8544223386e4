"""Task runners for fan-out: threads by default, a Dask cluster (the `dask` extra) when one is named."""

from __future__ import annotations

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner


def task_runner_for(dask_address: str | None = None) -> TaskRunner:
    """ThreadPoolTaskRunner, or a DaskTaskRunner on the scheduler at `dask_address` (e.g. tcp://host:8786)."""
    if not dask_address:
        return ThreadPoolTaskRunner()
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise ImportError(
            f"a Dask scheduler ({dask_address}) was given but prefect-dask is not installed: "
            "pip install 'postmortem[dask]'"
        ) from None
    return DaskTaskRunner(address=dask_address)
