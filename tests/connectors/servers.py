"""Real Prometheus and Alertmanager processes for connector tests, on free loopback ports with temp storage.

The binaries come from the Debian packages `prometheus` (prometheus, promtool) and
`prometheus-alertmanager`. When one is missing the test FAILS naming the package, unless
POSTMORTEM_SKIP_REAL_SERVERS=1 is set, in which case it is skipped with the same reason.

    with start_prometheus(tmp_dir, openmetrics_text) as prom:   # backfilled with promtool first
        prom.url
    with start_alertmanager(tmp_dir) as am:
        am.url
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SKIP_ENV = "POSTMORTEM_SKIP_REAL_SERVERS"
START_TIMEOUT = 20.0

# binary -> (alternative names, Debian package)
BINARIES: dict[str, tuple[tuple[str, ...], str]] = {
    "prometheus": (("prometheus",), "prometheus"),
    "promtool": (("promtool",), "prometheus"),
    "alertmanager": (("prometheus-alertmanager", "alertmanager"), "prometheus-alertmanager"),
}

PROMETHEUS_CONFIG = """\
# no scrape targets: the tests read blocks backfilled with promtool
global:
  scrape_interval: 1m
scrape_configs: []
"""

ALERTMANAGER_CONFIG = """\
route:
  receiver: "null"
  group_wait: 1h
receivers:
  - name: "null"
"""


def require_binary(name: str) -> str:
    """Path of a server binary; fails the test when absent (skips it if POSTMORTEM_SKIP_REAL_SERVERS=1)."""
    names, package = BINARIES[name]
    for candidate in names:
        path = shutil.which(candidate)
        if path is not None:
            return path
    reason = (
        f"`{' or '.join(names)}` is not on PATH: install the Debian package `{package}` "
        f"(apt-get install {package}, or run .ci/install-packages.sh)"
    )
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{reason}; skipped because {SKIP_ENV}=1")
    pytest.fail(f"{reason}, or set {SKIP_ENV}=1 to skip the real-server tests", pytrace=False)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server process and its base URL."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's output (for failure messages)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Poll `/-/ready` until it answers 200; fail with the server's log when it exits or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}", pytrace=False
                )
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        pytest.fail(f"{self.name} was not ready after {timeout} s:\n{self.log_tail()}", pytrace=False)

    def stop(self) -> None:
        """Terminate the process (kill it after 5 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@contextmanager
def _run(name: str, argv: list[str], port: int, workdir: Path) -> Iterator[Server]:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    server = Server(name, f"http://127.0.0.1:{port}", process, log)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def backfill(openmetrics: str, data_dir: Path, workdir: Path) -> None:
    """Write TSDB blocks from OpenMetrics text (ending `# EOF`) with promtool create-blocks-from."""
    source = workdir / "backfill.om"
    source.write_text(openmetrics)
    result = subprocess.run(
        [require_binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"promtool backfill failed ({result.returncode}):\n{result.stderr[-2000:]}", pytrace=False
        )


@contextmanager
def start_prometheus(workdir: Path, openmetrics: str | None = None) -> Iterator[Server]:
    """Prometheus on a free loopback port: no scrape targets, 100y retention, optionally backfilled."""
    binary = require_binary("prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data"
    if openmetrics is not None:
        backfill(openmetrics, data, workdir)
    config = workdir / "prometheus.yml"
    config.write_text(PROMETHEUS_CONFIG)
    port = free_port()
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        "--storage.tsdb.retention.time=100y",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with _run("prometheus", argv, port, workdir) as server:
        yield server


@contextmanager
def start_alertmanager(workdir: Path) -> Iterator[Server]:
    """Alertmanager on a free loopback port with a null receiver, clustering off and temp storage."""
    binary = require_binary("alertmanager")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text(ALERTMANAGER_CONFIG)
    port = free_port()
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    with _run("alertmanager", argv, port, workdir) as server:
        yield server
