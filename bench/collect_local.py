"""Benchmark: `postmortem collect` of a typical incident from local sources (issue 3: under 5 s).

Usage: python bench/collect_local.py [--log-lines 40000] [--commits 300] [--repeat 3]
Sources: a real git repository built in a temp dir, a local HTTP server answering Loki's query_range
(tests/connectors/fake_loki.py), and, when the Debian packages are installed, a real Prometheus
backfilled with promtool and a real Alertmanager with posted alerts. Prints what each source returned,
its time, and the wall time of each collection (the sources are pulled concurrently).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from connectors.collect import collect
from connectors.config import parse_config
from postmortem.model import Incident
from tests.connectors.fake_loki import QUERY_RANGE, FakeLoki, Stream, ns
from tests.connectors.fakeserver import FakeServer
from tests.connectors.gitrepo import GitRepo
from tests.connectors.servers import start_alertmanager, start_prometheus

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)  # impact start
SERVICES = ("checkout", "payments", "search", "inventory", "gateway")
INCIDENT = Incident(
    id="INC-BENCH",
    severity="SEV2",
    services=["payments"],
    started_at=T0,
    detected_at=T0 + timedelta(minutes=5),
    resolved_at=T0 + timedelta(minutes=45),
)
STEP = 30


def build_repo(path: Path, commits: int) -> None:
    """`commits` commits over the 7 hours before the incident, spread over the services' directories."""
    repo = GitRepo.init(path)
    gaps = np.linspace(7 * 3600, 60, commits)
    for k, seconds in enumerate(gaps):
        service = SERVICES[k % len(SERVICES)]
        files = {f"services/{service}/mod{k % 7}.py": f"VALUE = {k}\n" * (1 + k % 5)}
        if k % 11 == 0:
            files["lib/shared.py"] = f"SHARED = {k}\n"
        repo.commit(f"{service}: change {k}", files, when=T0 - timedelta(seconds=float(seconds)))


def log_streams(lines: int) -> list[Stream]:
    """`lines` lines over the window across the services, errors for payments from the impact start."""
    start, end = ns(T0 - timedelta(hours=6)), ns(T0 + timedelta(minutes=75))
    per = lines // len(SERVICES)
    streams = []
    for i, service in enumerate(SERVICES):
        stamps = np.linspace(start, end - 1, per, dtype=np.int64) + i
        entries = [
            (int(t), f'level={"error" if service == "payments" and t >= ns(T0) else "info"} msg="req {k}"')
            for k, t in enumerate(stamps.tolist())
        ]
        streams.append(Stream({"service": service, "env": "prod"}, entries))
    return streams


def openmetrics() -> str:
    """Error ratio and latency of every service at 30 s from 7 h before the incident to 2 h after."""
    seconds = int((T0 - timedelta(hours=7)).timestamp()) + STEP * np.arange(9 * 3600 // STEP)
    lines = ["# TYPE http_error_ratio gauge"]
    for service in SERVICES:
        values = 0.01 + (0.2 if service == "payments" else 0.0) * (seconds >= T0.timestamp())
        lines += [
            f'http_error_ratio{{service="{service}"}} {v:.4f} {t}'
            for t, v in zip(seconds, values, strict=True)
        ]
    lines.append("# TYPE http_latency_seconds gauge")
    for i, service in enumerate(SERVICES):
        lines += [f'http_latency_seconds{{service="{service}"}} {0.1 * (i + 1)} {t}' for t in seconds]
    return "\n".join([*lines, "# EOF", ""])


def post_alerts(url: str) -> None:
    """Alerts of the incident, still firing, posted to Alertmanager's v2 API."""
    alerts = [
        {
            "labels": {
                "alertname": f"HighErrorRate{i}",
                "service": SERVICES[i % len(SERVICES)],
                "severity": "page",
            },
            "annotations": {"summary": "error ratio above 5 %"},
            "startsAt": (T0 + timedelta(minutes=2 + i)).isoformat(),  # no endsAt: still firing
        }
        for i in range(20)
    ]
    request = urllib.request.Request(
        f"{url}/api/v2/alerts",
        json.dumps(alerts).encode(),
        {"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5).close()


def main() -> None:
    """Start the sources, collect the incident `--repeat` times, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log-lines", type=int, default=40_000)
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pm-bench-collect-"))
    try:
        with ExitStack() as stack:
            began = time.perf_counter()
            build_repo(work / "shop", args.commits)
            loki = stack.enter_context(FakeServer())
            loki.route("GET", QUERY_RANGE, FakeLoki({'{env="prod"}': log_streams(args.log_lines)}))
            connectors: dict[str, dict[str, Any]] = {
                "shop": {
                    "type": "git",
                    "path": str(work / "shop"),
                    "services": {s: [f"services/{s}/**"] for s in SERVICES} | {"platform": ["lib/"]},
                },
                "loki": {
                    "type": "loki",
                    "url": loki.url,
                    "queries": [{"name": "prod", "logql": '{env="prod"}'}],
                },
            }
            real = []
            if shutil.which("prometheus") and shutil.which("promtool"):
                prom = stack.enter_context(start_prometheus(work / "prometheus", openmetrics()))
                connectors["prom"] = {
                    "type": "prometheus",
                    "url": prom.url,
                    "queries": [
                        {"name": "error_ratio", "promql": "http_error_ratio"},
                        {"name": "latency", "promql": "http_latency_seconds"},
                    ],
                }
                real.append("prometheus")
            if shutil.which("prometheus-alertmanager") or shutil.which("alertmanager"):
                am = stack.enter_context(start_alertmanager(work / "alertmanager"))
                post_alerts(am.url)
                connectors["alertmanager"] = {"type": "alertmanager", "url": am.url}
                real.append("alertmanager")
            servers = ", ".join(real) or "none"
            print(f"setup      {time.perf_counter() - began:6.2f} s  (real servers: {servers})")

            config = parse_config({"connectors": connectors})
            walls = []
            for run in range(1, args.repeat + 1):
                result = collect(INCIDENT, config, work / "bundle")
                walls.append(result.duration_s)
                if run == 1:
                    for s in result.sources:
                        detail = (
                            f"{s.records:6d} records, {len(s.requests)} requests"
                            if s.status == "ok"
                            else s.error
                        )
                        print(f"  {s.source + '/' + str(s.capability):<22} {s.duration_s:6.2f} s  {detail}")
                    print(f"records    {result.datasets}  ({sum(result.datasets.values())} in all)")
                status = "partial" if result.partial else "complete"
                print(f"collect #{run} {result.duration_s:6.2f} s  {status}")
            print(
                f"wall time  median {statistics.median(walls):.2f} s, max {max(walls):.2f} s   (budget 5 s)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
