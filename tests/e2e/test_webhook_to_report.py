"""End to end: signed PagerDuty v3 webhook -> receiver -> `incident.closed` -> trigger -> run -> report.

Real processes: `prefect server start` (SQLite, then PostgreSQL), the `postmortem` flow served with the
trigger of prefect.yaml, `postmortem webhook`, and a local PagerDuty REST API answering with the
documented payloads (the flow re-fetches the incident from it).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from postmortem.store import open_store
from tests.connectors.fakeserver import FakeServer
from tests.connectors.incident_vendors import PD_ID, PD_INCIDENT, script_pagerduty
from tests.e2e.stack import Stack, wait_until
from tests.webhook.vendor import PAGERDUTY_SECRET, pagerduty_event, pagerduty_request

PD_TOKEN = "y_NbAkKc66ryYTWUXYEu"
PG_ADMIN = os.environ.get("POSTMORTEM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _create_databases(count: int) -> list[str]:
    """Fresh PostgreSQL databases (psycopg URLs); fails naming what it needs when the server is absent."""
    try:
        conn = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("POSTMORTEM_ALLOW_NO_PG") == "1":
            pytest.skip(f"needs a PostgreSQL server at {PG_ADMIN}: {exc}")
        pytest.fail(f"needs a PostgreSQL server at {PG_ADMIN} (POSTMORTEM_TEST_PG_URL): {exc}", pytrace=False)
    names = [f"pm_e2e_{uuid.uuid4().hex[:10]}" for _ in range(count)]
    with conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    return names


def _drop_databases(names: list[str]) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str | None, str]]:
    """(Prefect server database URL or None for its SQLite default, postmortem store URL)."""
    if request.param == "sqlite":
        yield None, f"sqlite:///{tmp_path / 'data' / 'postmortem.db'}"
        return
    prefect_db, store_db = _create_databases(2)
    admin = make_url(PG_ADMIN)
    try:
        yield (
            admin.set(drivername="postgresql+asyncpg", database=prefect_db).render_as_string(
                hide_password=False
            ),
            admin.set(database=store_db).render_as_string(hide_password=False),
        )
    finally:
        _drop_databases([prefect_db, store_db])


def test_a_signed_pagerduty_webhook_produces_one_completed_run_and_a_report(
    tmp_path: Path, databases: tuple[str | None, str]
) -> None:
    prefect_db, store_url = databases
    stack = Stack(tmp_path)
    started = time.monotonic()
    try:
        with FakeServer() as pagerduty:
            script_pagerduty(pagerduty)
            config = tmp_path / "postmortem.toml"
            config.write_text(
                f'[connectors.pagerduty]\ntype = "pagerduty"\nurl = "{pagerduty.url}"\n'
                'token = { env = "PD_TOKEN" }\nbackoff = 0\n'
            )
            stack.start_prefect_server(prefect_db, timeout=None)  # the others start meanwhile
            shared = {
                "POSTMORTEM_DATA_DIR": str(tmp_path / "data"),
                "POSTMORTEM_DATABASE_URL": store_url,
                "PD_TOKEN": PD_TOKEN,
            }
            serve = stack.start_serve(
                stack.client_env("serve", PREFECT_RUNNER_POLL_FREQUENCY="1", **shared), config
            )
            receiver = stack.start_receiver(
                stack.client_env("receiver", POSTMORTEM_WEBHOOK_PAGERDUTY_SECRETS=PAGERDUTY_SECRET, **shared)
            )
            stack.wait_for_prefect_server()
            stages = {"processes up": time.monotonic() - started}

            deployment: dict = {}

            def trigger_ready() -> bool:
                deployment.update(stack.deployment("postmortem", "postmortem"))
                return bool(stack.automations_of(deployment["id"]))

            wait_until("the served deployment and its trigger", trigger_ready, 40, [serve, *stack.procs])
            stages["trigger ready"] = time.monotonic() - started
            time.sleep(1.0)  # the triggers service picks new automations up from its change stream

            http = httpx.Client(base_url=receiver, timeout=10)
            forged = pagerduty_request(pagerduty_event(incident_id="PFORGED"), secrets=("not-the-secret",))
            assert http.post("/webhooks/pagerduty", content=forged[0], headers=forged[1]).status_code == 401
            body, headers = pagerduty_request(pagerduty_event(incident_id=PD_ID))
            first = http.post("/webhooks/pagerduty", content=body, headers=headers)
            accepted_at = time.monotonic()
            assert first.status_code == 202, first.text
            assert first.json()["resource"] == f"incident.pagerduty.{PD_ID}"
            again = http.post("/webhooks/pagerduty", content=body, headers=headers)
            assert (again.status_code, again.json()["status"]) == (200, "duplicate")

            def completed() -> bool:
                runs = stack.flow_runs(deployment["id"])
                return any(r["state_type"] == "COMPLETED" for r in runs)

            wait_until("a completed postmortem flow run", completed, 60, stack.procs)
            stages["run completed"] = time.monotonic() - started
            time.sleep(1.5)  # room for a wrong second run to appear
            runs = stack.flow_runs(deployment["id"])
            assert len(runs) == 1, [(r["name"], r["parameters"], r["state_type"]) for r in runs]
            run = runs[0]
            assert run["state_type"] == "COMPLETED"
            assert run["parameters"]["incident_id"] == f"incident.pagerduty.{PD_ID}"
            assert run["parameters"]["config"] == str(config)
            # the flow fetched the incident from PagerDuty before running
            assert pagerduty.requests_to(f"/incidents/{PD_ID}", "GET")
            assert not pagerduty.requests_to("/incidents/PFORGED")
            assert http.get("/healthz").json()["deliveries"] == {"emitted": 1}
            http.close()

        with open_store(store_url) as store:
            report = store.latest_report_version(PD_ID)
            audit = [e.action for e in store.audit_entries(subject=PD_ID)]
        assert report is not None and report.version == 1, stack.tails()
        engineering = Path(report.path) / "engineering.md"
        assert engineering.is_file()
        assert PD_INCIDENT["title"] in engineering.read_text()
        assert audit.count("postmortem.completed") == 1
        stages["end"] = time.monotonic() - started
        print(
            ", ".join(f"{name} +{at:.1f}s" for name, at in stages.items()),
            f"(webhook at +{accepted_at - started:.1f}s)",
        )
    except AssertionError:
        print(stack.tails())
        raise
    finally:
        stack.stop()
    assert not [p.name for p in stack.procs if p.alive()]
