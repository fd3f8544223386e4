"""Benchmark: the monthly `governance` audit of 10k incidents and 50k actions (DESIGN 7: under 60 s).

Usage: python bench/governance_audit.py [--incidents 10000] [--actions 50000] [--chunk-size 500]
                                        [--db-url postgresql://postgres@127.0.0.1:5432] [--seed 7]

Seeding (timed apart, not part of the audit): a fresh store, by default an SQLite file in a temporary
directory (removed at the end); with `--db-url` a PostgreSQL server, on which a fresh database is
created and dropped at the end. Each incident goes through the store calls of the flow's publish path,
in its order: `save_analysis` (its gate verdicts, no timeline), `ensure_ticket` and a `ticket.created`
audit entry per passing action, `add_report_version` and `report.published`, then
`postmortem.completed`. About 60 % of the actions pass; the others carry one or two of the gate's
usual reasons. This per-row API is slow but bearable (10k incidents: about 2.5 min on SQLite, 6 min on
PostgreSQL). `append_audit` stamps entries now, so the audited month is the current one (the script
stops if seeding crossed a month boundary).

Audit: a fresh Python process, as a worker's flow-run process, with a throwaway Prefect test server
(`prefect_test_harness`, flow heartbeats off, as tests/flows does) calls the `governance` flow for that
month on the default thread task runner. It prints the flow's wall time in that process, the time of
the `month-activity` task and of the `governance-fan-out` subflow (from the Prefect API), the process'
peak RSS, and the report's figures checked against what was seeded; then the verdict against 60 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from postmortem.model import (
    Analysis,
    GateVerdict,
    ReportVersion,
)
from postmortem.store import Store, open_store
from tasks import governance as gov
from tasks.publish import ACTOR
from tests.store.builders import gate_analysis

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = 60.0
PASS_SHARE = 0.6
REASONS = (
    "field 'owner' is missing: say who owns the action",
    "field 'due' is missing: say when it is due",
    "field 'success_metric' is not measurable: 'fewer errors' has no number, threshold or comparison",
    "field 'title' is vague: it is built on 'improve' and names no measurable target",
    "field 'type' is 'misc', not one of detect, mitigate, prevent, process",
    "duplicate of 'Alert on checkout error rate above 2 %'",
)
CHILD = """
import json, resource, sys, time
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.testing.utilities import prefect_test_harness
from flows.governance import governance

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

month, chunk_size = sys.argv[1], int(sys.argv[2])
with prefect_test_harness(), temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
    from prefect.client.orchestration import get_client
    before = rss_mb()
    start = time.perf_counter()
    state = governance(month=month, chunk_size=chunk_size, return_state=True)
    wall = time.perf_counter() - start
    peak = rss_mb()
    report = state.result()
    parent = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        runs = {str(r.id): r for r in client.read_flow_runs()}
        fan_out = [r.total_run_time.total_seconds() for r in runs.values() if r.parent_task_run_id]
        activity = None
        for _ in range(50):  # task runs reach the server as events: give its recorder a moment
            tasks = [t for t in client.read_task_runs() if str(t.flow_run_id) == str(parent)]
            done = [t for t in tasks if t.name.startswith("month-activity") and t.end_time]
            if done:
                activity = done[0].total_run_time.total_seconds()
                break
            time.sleep(0.1)
        flow_run = runs[str(parent)].total_run_time.total_seconds()
print(json.dumps({"wall": wall, "flow_run": flow_run, "activity": activity, "fan_out": fan_out,
                  "rss_before": before, "rss_peak": peak, "report": report}))
"""


def fingerprint(incident_id: str, title: str) -> str:
    """A stable action fingerprint, as `Action.fingerprint` makes one."""
    return hashlib.sha256(f"{incident_id}\x00{title.lower()}".encode()).hexdigest()[:16]


def verdicts_for(incident_id: str, count: int, rng: random.Random) -> list[GateVerdict]:
    """`count` gate verdicts, about PASS_SHARE of them passing, the others with one or two reasons."""
    out = []
    for k in range(count):
        title = f"Action {k} of {incident_id}: alert on error rate above {rng.randint(1, 9)} %"
        if rng.random() < PASS_SHARE:
            due = date(2030, 1, 1) + timedelta(days=rng.randint(0, 300))
            out.append(
                GateVerdict(
                    title=title,
                    fingerprint=fingerprint(incident_id, title),
                    passed=True,
                    owner=f"team-{rng.randint(1, 40)}",
                    due=due,
                    type="prevent",
                )
            )
        else:
            reasons = rng.sample(REASONS, rng.choice((1, 1, 2)))
            out.append(
                GateVerdict(
                    title=title, fingerprint=fingerprint(incident_id, title), passed=False, reasons=reasons
                )
            )
    return out


def publish_one(store: Store, analysis: Analysis, root: Path) -> tuple[int, datetime]:
    """Store one incident the way the publish path does; returns its audit entries and completion time."""
    iid = analysis.incident.id
    store.save_analysis(analysis)
    entries = 0
    for verdict in analysis.remediation:
        if verdict.passed:
            ticket, created = store.ensure_ticket(iid, verdict)
            if created:
                store.append_audit(ACTOR, "ticket.created", iid, {"key": ticket.key, "title": verdict.title})
                entries += 1
    digest = hashlib.sha256(iid.encode()).hexdigest()
    now = datetime.now(UTC)
    path = str(root / "reports" / iid / "v1")
    store.add_report_version(
        ReportVersion(
            incident_id=iid, version=1, content_hash=digest, parent_hash=None, path=path, created_at=now
        )
    )
    store.append_audit(ACTOR, gov.PUBLISHED, iid, {"version": 1, "content_hash": digest})
    done = store.append_audit(ACTOR, gov.COMPLETED, iid, {"version": 1, "tickets_created": entries})
    return entries + 2, done.ts


def seed(url: str, incidents: int, actions: int, rng: random.Random, root: Path) -> dict[str, object]:
    """Seed the store; returns the audited month and what the report must show."""
    per, extra = divmod(actions, incidents)
    seeded = {"postmortems": incidents, "actions": 0, "actions_passed": 0, "audit_entries": 0}
    months = set()
    started = datetime.now(UTC) - timedelta(days=2)
    with open_store(url) as store:
        tick = time.perf_counter()
        for i in range(incidents):
            iid = f"INC-{i:05d}"
            verdicts = verdicts_for(iid, per + (i < extra), rng)
            entries, ts = publish_one(store, gate_analysis(iid, verdicts, started), root)
            months.add(ts.strftime("%Y-%m"))
            seeded["actions"] += len(verdicts)
            seeded["actions_passed"] += sum(v.passed for v in verdicts)
            seeded["audit_entries"] += entries
            if time.perf_counter() - tick > 15:
                print(f"  seeded {i + 1}/{incidents} incidents", flush=True)
                tick = time.perf_counter()
    if len(months) != 1:
        raise SystemExit(f"seeding crossed a month boundary ({sorted(months)}): run the bench again")
    return {"month": months.pop(), **seeded}


def fresh_postgres(server_url: str) -> tuple[str, str]:
    """Create a fresh database on the server; returns its store URL and the admin conninfo to drop it."""
    server = make_url(server_url)
    admin = server.set(drivername="postgresql", database=server.database or "postgres")
    admin_dsn = admin.render_as_string(hide_password=False)
    name = f"pm_governance_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.set(database=name).render_as_string(hide_password=False), admin_dsn


def drop_postgres(admin_dsn: str, url: str) -> None:
    """Drop the benchmark's database."""
    name = make_url(url).database
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_audit(url: str, month: str, chunk_size: int, root: Path) -> dict[str, object]:
    """The governance flow in a fresh process against a throwaway Prefect test server; its figures."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(
        POSTMORTEM_DATABASE_URL=url,
        POSTMORTEM_DATA_DIR=str(root / "data"),
        PREFECT_HOME=str(root / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_TO_API_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
        PYTHONPATH=str(REPO),
    )
    out = subprocess.run(
        [sys.executable, "-c", CHILD, month, str(chunk_size)],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    """Seed a fresh store, run the audit in a fresh process and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--actions", type=int, default=50_000)
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--db-url", help="PostgreSQL server: a fresh database is created there and dropped")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="pm-governance-bench-"))
    url, admin = fresh_postgres(args.db_url) if args.db_url else (f"sqlite:///{root / 'postmortem.db'}", None)
    backend = make_url(url).get_backend_name()
    try:
        print(f"seeding {args.incidents} incidents, {args.actions} actions on {backend} ...", flush=True)
        start = time.perf_counter()
        seeded = seed(url, args.incidents, args.actions, random.Random(args.seed), root)
        print(
            f"seeded in {time.perf_counter() - start:.1f} s (not part of the audit): "
            f"{seeded['postmortems']} incidents, {seeded['actions']} actions "
            f"({seeded['actions_passed']} passing), {seeded['audit_entries']} audit entries, "
            f"month {seeded['month']}",
            flush=True,
        )
        fig = run_audit(url, str(seeded["month"]), args.chunk_size, root)
    finally:
        if admin is not None:
            drop_postgres(admin, url)
        shutil.rmtree(root, ignore_errors=True)
    report = fig["report"]
    chunks = -(-int(report["postmortems"]) // args.chunk_size)
    activity = "n/a" if fig["activity"] is None else f"{fig['activity']:.2f} s"
    fan_out = " + ".join(f"{s:.2f}" for s in fig["fan_out"]) or "n/a"
    print(f"governance flow on {backend}, {chunks} chunks of {args.chunk_size} on threads:")
    print(
        f"  wall time of the flow call: {fig['wall']:.2f} s  "
        f"(flow run total_run_time {fig['flow_run']:.2f} s)"
    )
    print(f"  month-activity task:        {activity}")
    print(f"  governance-fan-out subflow: {fan_out} s")
    print(
        f"  peak RSS of the flow process: {fig['rss_peak']:.0f} MiB "
        f"({fig['rss_before']:.0f} MiB before the flow)"
    )
    print(
        f"  report: {report['postmortems']} postmortems, {report['actions']} actions, "
        f"{report['actions_passed']} passed, pass rate {report['gate_pass_rate']}"
    )
    mismatch = [k for k in ("postmortems", "actions", "actions_passed") if report[k] != seeded[k]]
    if mismatch:
        wrong = ", ".join(f"{k} {report[k]} != {seeded[k]}" for k in mismatch)
        print(f"  MISMATCH with the seeded store: {wrong}")
    verdict = "within" if fig["wall"] < BUDGET_S else "OVER"
    print(f"budget (DESIGN 7): {fig['wall']:.1f} s of {BUDGET_S:.0f} s, {verdict} budget")


if __name__ == "__main__":
    main()
