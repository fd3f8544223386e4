"""Benchmark: the whole `postmortem` flow on a typical incident against a running Prefect server.

Usage: python bench/flow_run.py [--runs 3] [--out bench/out] [--size typical|large] [--served]

DESIGN 7 budgets the whole flow of a typical incident (50k events) at 10 s. Each run is a fresh Python
process that calls the flow twice on the same incident: first cold, as a worker's flow-run process
does (Prefect, pandas and Great Expectations imported on the way), then warm in the same process.
Per run it prints the process wall time up to the end of the cold flow, each flow run's own time
(Prefect's `total_run_time`) and its tasks' times, and validation's share of the flow run; then
medians over the runs, and GX's import cost alone (the part of a cold validation no tuning removes).
With `--served`, a `postmortem validation-worker` runs beside the server and the flow sends it the GX
steps (POSTMORTEM_VALIDATION_WORKER=true): validation's time is then the flow's wait for the worker.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quality import ensure
from tests.e2e.stack import Stack

VALIDATE = "validate-evidence"
CHILD = """
import json, sys, time
start = time.perf_counter()
from flows.postmortem import postmortem

ids, walls = [], []
for _ in range(2):
    state = postmortem(incident_id=sys.argv[1], bundle=sys.argv[2], return_state=True)
    walls.append(time.perf_counter() - start)
    ids.append(str(state.state_details.flow_run_id))
    start = time.perf_counter()
print(json.dumps({"ids": ids, "walls": walls}))
"""
GX_IMPORT = (
    "import time, flows.postmortem, tasks.analyze, tasks.publish, reports.render; t = time.perf_counter(); "
    "import great_expectations; print(time.perf_counter() - t)"
)


def task_times(stack: Stack, flow_run_id: str) -> tuple[float, dict[str, float]]:
    """A flow run's own seconds and its tasks' seconds by task name."""
    run = stack.api("GET", f"/flow_runs/{flow_run_id}")
    body = {"flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 200}
    tasks = stack.api("POST", "/task_runs/filter", json=body)
    return run["total_run_time"], {t["name"].rsplit("-", 1)[0]: t["total_run_time"] for t in tasks}


def main() -> None:
    """Run the flow `--runs` times in fresh processes and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", choices=["typical", "large"], default="typical")
    parser.add_argument("--served", action="store_true", help="validate in a `postmortem validation-worker`")
    args = parser.parse_args()
    bundle = ensure(args.out / f"quality-{args.size}", args.size).resolve()
    incident_id = json.loads((bundle / "incident.json").read_text())["id"]
    root = Path(tempfile.mkdtemp(prefix="pm-flow-bench-"))
    stack = Stack(root)
    rows: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
    try:
        stack.start_prefect_server()
        shared = {
            "POSTMORTEM_DATA_DIR": str(root / "data"),
            "PREFECT_LOCAL_STORAGE_PATH": str(root / "results"),
        }
        if args.served:
            stack.start_validation_worker(stack.client_env("worker", **shared))
            shared["POSTMORTEM_VALIDATION_WORKER"] = "true"
        env = stack.client_env("flow", PREFECT_LOGGING_LEVEL="WARNING", **shared)
        for i in range(args.runs):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, incident_id, str(bundle)],
                env=env,
                cwd=Path(__file__).resolve().parents[1],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            child = json.loads(out.strip().splitlines()[-1])
            for kind, run_id, wall in zip(("cold", "warm"), child["ids"], child["walls"], strict=True):
                total, tasks = task_times(stack, run_id)
                rows[kind].append({"process": wall, "flow": total, **tasks})
                steps = "  ".join(f"{name} {secs:.2f}" for name, secs in tasks.items())
                print(
                    f"run {i + 1} {kind}: process {wall:5.2f} s  flow run {total:5.2f} s  "
                    f"validation share {tasks[VALIDATE] / total:5.1%}  [{steps}]",
                    flush=True,
                )
    finally:
        stack.stop()
    gx = subprocess.run([sys.executable, "-c", GX_IMPORT], check=True, capture_output=True, text=True)
    where = "a validation worker" if args.served else "the flow's process"
    print(f"medians of {args.runs} runs, {args.size} incident {incident_id}, GX steps in {where}:")
    for kind, samples in rows.items():
        median = {k: statistics.median(s.get(k, 0.0) for s in samples) for k in samples[0]}
        print(
            f"  {kind}: process {median['process']:5.2f} s  flow run {median['flow']:5.2f} s  "
            f"validate {median[VALIDATE]:5.2f} s  analyse {median['analyse']:5.2f} s  "
            f"validation share of the flow run {median[VALIDATE] / median['flow']:5.1%}"
        )
    print(f"  GX import alone, after the rest of the flow's imports: {float(gx.stdout):.2f} s")


if __name__ == "__main__":
    main()
