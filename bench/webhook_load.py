"""Webhook receiver bench (DESIGN section 7): accepted -> flow run started, and 200 requests/s held.

    python bench/webhook_load.py [--runs 5] [--rate 200] [--seconds 10]

Phase 1 (latency): a real `prefect server start`, the `postmortem` flow served with the trigger of
prefect.yaml, `postmortem webhook`, and a local PagerDuty API. Each signed `incident.resolved` webhook
is timed from its 202 to the flow run's creation (the trigger fired), PENDING (the runner picked it
up) and RUNNING (the flow's own process started). Budget: started under 5 s.

Phase 2 (load): a fresh Prefect server (no deployment, so no runs) and the receiver; an open loop sends
signed, distinct deliveries at `--rate` per second for `--seconds` (loopback only, bounded), then
checks that every one was answered 202, stored, confirmed by Prefect and is in its event store.
Latency is counted from each request's scheduled send time. Budget: p99 under 50 ms, none lost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.connectors.fakeserver import FakeServer  # noqa: E402
from tests.connectors.incident_vendors import PD_INCIDENT, script_pagerduty  # noqa: E402
from tests.e2e.stack import Stack, wait_until  # noqa: E402
from tests.webhook.vendor import PAGERDUTY_SECRET, pagerduty_event, pagerduty_request  # noqa: E402

PD_TOKEN = "bench-token"


def _ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of non-empty `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def latency_phase(root: Path, runs: int) -> list[dict[str, float]]:
    """Seconds from the 202 to the run's creation (trigger fired), PENDING (the runner picked it up),
    RUNNING (flow code started in its own process) and its end, for `runs` incidents one at a time."""
    root.mkdir(parents=True, exist_ok=True)
    stack = Stack(root)
    samples = []
    try:
        with FakeServer() as pagerduty:
            ids = [f"PBENCH{i:02d}" for i in range(runs)]
            for iid in ids:
                script_pagerduty(pagerduty, incident={**PD_INCIDENT, "id": iid})
            config = root / "postmortem.toml"
            config.write_text(
                f'[connectors.pagerduty]\ntype = "pagerduty"\nurl = "{pagerduty.url}"\n'
                'token = { env = "PD_TOKEN" }\nbackoff = 0\n'
            )
            stack.start_prefect_server()
            shared = {"POSTMORTEM_DATA_DIR": str(root / "data"), "PD_TOKEN": PD_TOKEN}
            serve = stack.start_serve(
                stack.client_env("serve", PREFECT_RUNNER_POLL_FREQUENCY="1", **shared), config
            )
            url = stack.start_receiver(
                stack.client_env("receiver", POSTMORTEM_WEBHOOK_PAGERDUTY_SECRETS=PAGERDUTY_SECRET, **shared)
            )
            deployment: dict = {}

            def ready() -> bool:
                deployment.update(stack.deployment("postmortem", "postmortem"))
                return bool(stack.automations_of(deployment["id"]))

            wait_until("the served deployment", ready, 60, [serve, *stack.procs])
            time.sleep(1.0)
            with httpx.Client(base_url=url, timeout=10) as http:
                for iid in ids:
                    body, headers = pagerduty_request(pagerduty_event(incident_id=iid))
                    response = http.post("/webhooks/pagerduty", content=body, headers=headers)
                    accepted = time.time()
                    assert response.status_code == 202, response.text
                    resource = f"incident.pagerduty.{iid}"
                    run: dict = {}

                    def finished(resource: str = resource, run: dict = run) -> bool:
                        for candidate in stack.flow_runs(deployment["id"]):
                            if candidate["parameters"].get("incident_id") == resource:
                                run.update(candidate)
                        return run.get("state_type") in ("COMPLETED", "FAILED", "CRASHED")

                    wait_until(f"the flow run of {iid}", finished, 120, stack.procs)
                    states = stack.api("GET", "/flow_run_states/", params={"flow_run_id": run["id"]})
                    pending = min(_ts(st["timestamp"]) for st in states if st["type"] == "PENDING")
                    marks = {
                        "created": _ts(run["created"]) - accepted,
                        "picked up": pending - accepted,
                        "running": _ts(run["start_time"]) - accepted,
                        run["state_type"].lower(): _ts(run["end_time"]) - accepted,
                    }
                    samples.append(marks)
                    print(f"  {iid}: " + ", ".join(f"{k} +{v:.2f}s" for k, v in marks.items()), flush=True)
    finally:
        stack.stop()
    return samples


class _Connections:
    """Keep-alive HTTP/1.1 connections to the receiver, reused by the open loop (at most `limit`).

    The requests are encoded once before the loop and the answers parsed only for their status and
    length, so the load generator costs little CPU next to the receiver it measures.
    """

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host, self.port, self.limit = host, port, limit
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0
        self.resent = 0
        self.available = asyncio.Semaphore(limit)

    async def post(self, raw: bytes) -> int:
        """Send one encoded request, return the answer's status code.

        A kept-alive connection the server closed meanwhile (uvicorn's keep-alive timeout is 5 s)
        answers nothing: the request is sent again on a new connection, as HTTP clients do (a
        redelivery is harmless anyway: the receiver deduplicates)."""
        async with self.available:
            while self.idle:
                reader, writer = self.idle.pop()
                status = await self._exchange(reader, writer, raw)
                if status is not None:
                    return status
                writer.close()
                self.resent += 1
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.opened += 1
            status = await self._exchange(reader, writer, raw)
            if status is None:
                raise ConnectionError("the receiver closed a new connection without answering")
            return status

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
    ) -> int | None:
        """Status of the answer to `raw` on this connection, None if it closed before answering."""
        writer.write(raw)
        status_line = await reader.readline()
        if not status_line:
            return None
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        self.idle.append((reader, writer))
        return int(status_line.split()[1])

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


def encode(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 POST /webhooks/pagerduty request as bytes."""
    host = url.removeprefix("http://")
    lines = ["POST /webhooks/pagerduty HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _open_loop(url: str, requests: list[bytes], rate: float) -> list[tuple[int, float]]:
    """Send each request at its scheduled time (not waiting for earlier answers); (status, seconds) each."""
    host, port = url.removeprefix("http://").split(":")
    pool = _Connections(host, int(port), limit=128)
    results: list[tuple[int, float]] = [(0, 0.0)] * len(requests)

    async def one(i: int, raw: bytes, scheduled: float) -> None:
        try:
            status = await pool.post(raw)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            status = -1
        results[i] = (status, time.perf_counter() - scheduled)  # from the intended send time

    start = time.perf_counter()
    tasks = []
    for i, raw in enumerate(requests):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, raw, scheduled)))
    await asyncio.gather(*tasks)
    print(
        f"  sent {len(requests)} in {time.perf_counter() - start:.2f}s on {pool.opened} connections"
        f" ({pool.resent} resent after a kept-alive connection had closed)",
        flush=True,
    )
    pool.close()
    return results


def load_phase(
    root: Path, rate: float, seconds: float, store_url: str | None, synchronous: str
) -> dict[str, float]:
    """Latency quantiles and loss under an open loop of distinct signed deliveries."""
    root.mkdir(parents=True, exist_ok=True)
    stack = Stack(root)
    try:
        stack.start_prefect_server()
        url = stack.start_receiver(
            stack.client_env(
                "receiver",
                POSTMORTEM_WEBHOOK_PAGERDUTY_SECRETS=PAGERDUTY_SECRET,
                POSTMORTEM_DATA_DIR=str(root / "data"),
                PREFECT_LOGGING_LEVEL="WARNING",
                POSTMORTEM_WEBHOOK_SQLITE_SYNCHRONOUS=synchronous,
                **({"POSTMORTEM_DATABASE_URL": store_url} if store_url else {}),
            )
        )
        count = int(rate * seconds)
        requests = [
            encode(url, *pagerduty_request(pagerduty_event(incident_id=f"PLOAD{i:05d}")))
            for i in range(count)
        ]
        warm_up = [
            encode(url, *pagerduty_request(pagerduty_event(incident_id=f"PWARM{i}"))) for i in range(50)
        ]
        warmed = asyncio.run(_open_loop(url, warm_up, 50))  # first requests pay one-off costs: not measured
        server, receiver = stack.procs
        cpu_before = server.cpu_seconds(), receiver.cpu_seconds(), time.process_time()
        results = asyncio.run(_open_loop(url, requests, rate))
        latencies = [seconds * 1000 for _, seconds in results]
        accepted = sum(1 for status, _ in results if status == 202)

        def all_emitted() -> bool:
            emitted = httpx.get(f"{url}/healthz", timeout=5).json()["deliveries"].get("emitted", 0)
            return emitted == accepted + sum(1 for status, _ in warmed if status == 202)

        emit_started = time.monotonic()
        wait_until("every delivery confirmed by Prefect", all_emitted, 120, stack.procs)
        emitted_after = time.monotonic() - emit_started
        query = {"filter": {"event": {"name": ["incident.closed"]}}}

        def all_in_prefect() -> bool:
            counts = stack.api("POST", "/events/count-by/event", json=query)
            return sum(c["count"] for c in counts) == accepted + sum(
                1 for status, _ in warmed if status == 202
            )

        wait_until("every event in Prefect's event store", all_in_prefect, 60, stack.procs)
        cpu_after = server.cpu_seconds(), receiver.cpu_seconds(), time.process_time()
        cpu_ms = [
            (after - before) * 1000 / count for before, after in zip(cpu_before, cpu_after, strict=True)
        ]
        return {
            "cpu_server": cpu_ms[0],
            "cpu_receiver": cpu_ms[1],
            "cpu_client": cpu_ms[2],
            "requests": count,
            "accepted": accepted,
            "p50": statistics.median(latencies),
            "p99": quantile(latencies, 0.99),
            "max": max(latencies),
            "emitted_after": emitted_after,
        }
    finally:
        stack.stop()


def main() -> int:
    """Run both phases and print the figures against the budgets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="incidents for the latency phase (0 skips it)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second in the load phase")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the load phase (0 skips it)")
    parser.add_argument(
        "--store", help="receiver store URL for the load phase (an empty PostgreSQL database; default SQLite)"
    )
    parser.add_argument(
        "--sqlite-synchronous", choices=["full", "normal"], default="full", help="SQLite store sync mode"
    )
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="pm-webhook-bench-") as tmp:
        if args.runs:
            print(f"latency: {args.runs} signed incident.resolved webhooks, one at a time", flush=True)
            samples = latency_phase(Path(tmp) / "latency", args.runs)
            for mark in ("created", "picked up", "running"):
                values = [sample[mark] for sample in samples]
                print(
                    f"accepted -> run {mark}: median {statistics.median(values):.2f}s, max {max(values):.2f}s"
                )
            running = max(sample["running"] for sample in samples)
            print(f"budget: flow run started (RUNNING) < 5 s: {'ok' if running < 5 else 'OVER'}")
            ok &= running < 5
        if args.seconds:
            store = "PostgreSQL" if args.store else f"SQLite, synchronous={args.sqlite_synchronous.upper()}"
            print(f"load: {args.rate:.0f} requests/s for {args.seconds:.0f}s, open loop, store on {store}")
            figures = load_phase(
                Path(tmp) / "load", args.rate, args.seconds, args.store, args.sqlite_synchronous
            )
            refused = figures["requests"] - figures["accepted"]
            print(
                f"{figures['accepted']:.0f}/{figures['requests']:.0f} answered 202 ({refused:.0f} not), "
                f"every accepted one confirmed by Prefect {figures['emitted_after']:.1f}s after the last "
                f"request and present in its event store (lost: 0); latency p50 {figures['p50']:.1f} ms, "
                f"p99 {figures['p99']:.1f} ms, max {figures['max']:.1f} ms "
                f"(budget p99 < 50 ms: {'ok' if figures['p99'] < 50 else 'OVER'})"
            )
            print(
                f"CPU per request: receiver {figures['cpu_receiver']:.2f} ms, Prefect server "
                f"{figures['cpu_server']:.2f} ms, load generator {figures['cpu_client']:.2f} ms "
                f"(2 cores = 10 ms per request at 200/s); load average {os.getloadavg()[0]:.1f}"
            )
            ok &= figures["p99"] < 50 and refused == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
