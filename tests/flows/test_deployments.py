"""`prefect deploy --all` of prefect.yaml against a real `prefect server start`, then a process worker run.

The server runs in its own PREFECT_HOME on SQLite and a free loopback port; the deploy runs from a copy
of the checkout's files (what a clean clone plus the work tree holds), and a `prefect worker start
--run-once` on the `process` pool runs the governance deployment to completion.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.workers.process import ProcessWorker

from tests.conftest import REPO

STARTUP_TIMEOUT = 60.0
RUN_TIMEOUT = 90.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _checkout_copy(target: Path) -> Path:
    """The checkout's tracked and untracked-but-not-ignored files (as a clone of the work tree would have)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        if rel.startswith("examples/") or not (REPO / rel).is_file():
            continue
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, target / rel)
    return target


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started in its own session, and its children."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A `prefect server start` on SQLite in a fresh PREFECT_HOME; yields its env and API URL."""
    root = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "POSTMORTEM_"))},
        "PREFECT_HOME": str(root / "home"),
        "PREFECT_API_URL": api,
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{root / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_CLI_PROMPT": "false",
    }
    log = (root / "server.log").open("wb")
    # the API is all that deploy and the worker use: no UI, no background services (faster to start)
    command = ["server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui", "--no-services"]
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", *command],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"prefect server exited: {(root / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prefect server not healthy after {STARTUP_TIMEOUT} s")
            time.sleep(0.3)
        yield {"env": env, "api": api, "root": root}
    finally:
        _stop(process)
        log.close()


def _prefect(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "prefect", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_deploy_all_then_a_process_worker_runs_governance(server: dict[str, Any], tmp_path: Path) -> None:
    env, api = server["env"], server["api"]
    checkout = _checkout_copy(tmp_path / "checkout")
    with httpx.Client(base_url=api, timeout=10) as client:
        # what `prefect work-pool create process --type process` does, without another CLI start-up
        template = ProcessWorker.get_default_base_job_template()
        pool = {"name": "process", "type": "process", "base_job_template": template}
        assert client.post("/work_pools/", json=pool).status_code == 201
        _prefect(["--no-prompt", "deploy", "--all"], env, checkout)

        deployments = {d["name"]: d for d in client.post("/deployments/filter", json={}).json()}
        assert set(deployments) == {"postmortem", "followup", "governance"}
        assert {d["work_pool_name"] for d in deployments.values()} == {"process"}

        crons = {name: [s["schedule"].get("cron") for s in d["schedules"]] for name, d in deployments.items()}
        assert crons == {"postmortem": [], "followup": ["0 7 * * *"], "governance": ["0 6 1 * *"]}
        assert deployments["governance"]["parameters"] == {"month": None, "dask_address": None}
        assert "month" in deployments["governance"]["parameter_openapi_schema"]["properties"]
        pull = deployments["governance"]["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]
        assert pull["directory"] == "{{ $POSTMORTEM_CHECKOUT }}"  # resolved on the worker, not at deploy

        automations = client.post("/automations/filter", json={}).json()
        (closed,) = [a for a in automations if "incident.closed" in a["trigger"].get("expect", [])]
        assert closed["trigger"]["match"] == {"prefect.resource.id": "incident.*"}
        (action,) = closed["actions"]
        assert (
            action["type"] == "run-deployment" and action["deployment_id"] == deployments["postmortem"]["id"]
        )
        assert action["parameters"]["incident_id"] == "{{ event.resource.id }}"

        run = client.post(
            f"/deployments/{deployments['governance']['id']}/create_flow_run",
            json={"parameters": {"month": "2000-01"}},
        ).json()

        data = tmp_path / "data"
        worker_env = {**env, "POSTMORTEM_CHECKOUT": str(checkout), "POSTMORTEM_DATA_DIR": str(data)}
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prefect",
                "worker",
                "start",
                "--pool",
                "process",
                "--type",
                "process",
                "--run-once",
                "--limit",
                "1",
            ],
            env=worker_env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            output, _ = worker.communicate(timeout=RUN_TIMEOUT)
        finally:
            _stop(worker)
        state = client.get(f"/flow_runs/{run['id']}").json()["state"]
        assert state["type"] == "COMPLETED", f"{state}\n{output.decode(errors='replace')[-3000:]}"
    assert (data / "postmortem.db").is_file()  # the flow ran in the checkout with the worker's settings
