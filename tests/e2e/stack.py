"""Real processes for end-to-end tests and benches: a Prefect server, a `serve` process, the receiver.

Each process runs in its own session with its own PREFECT_HOME and logs to a file; `stop()` ends the
whole process group (SIGTERM, then SIGKILL) so nothing outlives the test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tasks.served_validation import validate_bundle

REPO = Path(__file__).resolve().parents[2]
SERVE_SCRIPT = Path(__file__).with_name("serve_postmortem.py")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**overrides: str) -> dict[str, str]:
    """The environment without any PREFECT_* or POSTMORTEM_* variable of the caller, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "POSTMORTEM_"))}
    env.update(
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_TO_API_ENABLED="false",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


@dataclass
class Proc:
    """A subprocess in its own process group, logging to a file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        """Whether it still runs."""
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        """The end of its log."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(text.splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the live processes of its group (Linux /proc)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.popen.pid:  # field 5, pgrp
                total += (int(fields[11]) + int(fields[12])) / tick  # fields 14, 15: utime, stime
        return total

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it if still there after `timeout`."""
        if self.popen.poll() is not None:
            return
        pgid = self.popen.pid  # start_new_session: the group id is the leader's pid
        try:
            os.killpg(pgid, signal.SIGTERM)
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.popen.wait(timeout=timeout)
        except ProcessLookupError:
            pass


def start(name: str, argv: list[str], env: Mapping[str, str], logs: Path, cwd: Path = REPO) -> Proc:
    """Start `argv` in a new session (so its children can be ended with it)."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    handle = log.open("wb")
    popen = subprocess.Popen(
        argv, env=dict(env), cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    handle.close()
    return Proc(name, popen, log)


def wait_until(what: str, check: Callable[[], bool], timeout: float, procs: list[Proc]) -> None:
    """Poll `check` until true; fail naming `what` (with the processes' logs) on timeout or a dead process."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        dead = [p for p in procs if not p.alive()]
        if dead or time.monotonic() > deadline:
            why = (
                f"{dead[0].name} exited with {dead[0].popen.returncode}" if dead else f"{timeout:.0f}s passed"
            )
            logs = "\n".join(p.tail() for p in procs)
            raise AssertionError(f"waiting for {what}: {why}\n{logs}")
        time.sleep(0.1)


def healthy(url: str) -> bool:
    """Whether GET `url` answers 200."""
    return httpx.get(url, timeout=2).status_code == 200


@dataclass
class Stack:
    """The processes of one end-to-end run and the directories they use."""

    root: Path
    procs: list[Proc] = field(default_factory=list)
    api_url: str = ""
    receiver_url: str = ""
    _server: Proc | None = None

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def start_prefect_server(self, database_url: str | None = None, timeout: float | None = 60) -> str:
        """`prefect server start` on a free loopback port (SQLite in its PREFECT_HOME unless given);
        waits until it is healthy unless `timeout` is None (then see `wait_for_prefect_server`)."""
        port = free_port()
        home = self.root / "prefect-server-home"
        env = clean_env(
            PREFECT_HOME=str(home),
            PREFECT_SERVER_DATABASE_CONNECTION_URL=database_url
            or f"sqlite+aiosqlite:///{home / 'prefect.db'}",
            PREFECT_SERVER_UI_ENABLED="false",
            PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
            PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED="false",
            PREFECT_SERVER_SERVICES_FOREMAN_ENABLED="false",
            PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL="1",
            PREFECT_SERVER_LOGGING_LEVEL="WARNING",
        )
        argv = [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        proc = start("prefect-server", argv, env, self.logs)
        self.procs.append(proc)
        self.api_url = f"http://127.0.0.1:{port}/api"
        self._server = proc
        if timeout is not None:
            self.wait_for_prefect_server(timeout)
        return self.api_url

    def wait_for_prefect_server(self, timeout: float = 60) -> None:
        """Return once the Prefect server answers its health check."""
        wait_until("the Prefect server", lambda: healthy(f"{self.api_url}/health"), timeout, [self._server])

    def client_env(self, name: str, **overrides: str) -> dict[str, str]:
        """Environment of a Prefect client process (own PREFECT_HOME) talking to this stack's server."""
        defaults = {"PREFECT_HOME": str(self.root / f"{name}-home"), "PREFECT_LOGGING_LEVEL": "INFO"}
        return clean_env(**{**defaults, **overrides, "PREFECT_API_URL": self.api_url})

    def start_serve(self, env: Mapping[str, str], config: Path) -> Proc:
        """The `postmortem` flow served with its prefect.yaml trigger (see serve_postmortem.py); it
        imports the flow, then waits for the Prefect server, so it may start before the server is up."""
        argv = [sys.executable, str(SERVE_SCRIPT), "--config", str(config)]
        proc = start("serve", argv, env, self.logs)
        self.procs.append(proc)
        return proc

    def start_receiver(self, env: Mapping[str, str], timeout: float = 30) -> str:
        """`postmortem webhook` on a free loopback port; returns its base URL once healthy (it needs no
        Prefect server to start: it connects when it first emits)."""
        port = free_port()
        argv = [sys.executable, "-m", "postmortem.cli", "webhook", "--host", "127.0.0.1", "--port", str(port)]
        proc = start("receiver", argv, env, self.logs)
        self.procs.append(proc)
        self.receiver_url = f"http://127.0.0.1:{port}"
        wait_until("the webhook receiver", lambda: healthy(f"{self.receiver_url}/healthz"), timeout, [proc])
        return self.receiver_url

    def start_validation_worker(self, env: Mapping[str, str], timeout: float = 60) -> Proc:
        """`postmortem validation-worker`; returns once the Prefect server lists it as serving."""
        argv = [sys.executable, "-m", "postmortem.cli", "validation-worker"]
        proc = start("validation-worker", argv, env, self.logs)
        self.procs.append(proc)
        body = {"task_worker_filter": {"task_keys": [validate_bundle.task_key]}}
        wait_until(
            "the validation worker",
            lambda: bool(self.api("POST", "/task_workers/filter", json=body)),
            timeout,
            [proc],
        )
        return proc

    def stop(self) -> None:
        """Stop every process, the last started first."""
        for proc in reversed(self.procs):
            proc.stop()

    def tails(self) -> str:
        """The end of every process log."""
        return "\n".join(p.tail() for p in self.procs)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call to the Prefect REST API (JSON answer)."""
        response = httpx.request(method, f"{self.api_url}{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def flow_runs(self, deployment_id: str) -> list[dict[str, Any]]:
        """Every flow run of a deployment."""
        body = {"deployments": {"id": {"any_": [deployment_id]}}, "limit": 200}
        return self.api("POST", "/flow_runs/filter", json=body)

    def deployment(self, flow: str, name: str) -> dict[str, Any]:
        """A deployment by flow and deployment name."""
        return self.api("GET", f"/deployments/name/{flow}/{name}")

    def automations_of(self, deployment_id: str) -> list[dict[str, Any]]:
        """The automations whose action runs this deployment."""
        automations = self.api("POST", "/automations/filter", json={})
        return [
            a
            for a in automations
            if any(action.get("deployment_id") == deployment_id for action in a.get("actions", []))
        ]
