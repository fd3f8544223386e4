"""Argo CD connector against a local server answering like `GET /api/v1/applications` (documented shapes)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.argocd import CONNECTOR, ArgoCDConfig, ArgoCDConnector, app_changes
from connectors.base import Window
from connectors.config import connector_config
from connectors.http_errors import HttpError, PayloadError
from postmortem.model import Change
from tests.connectors.conformance import CHECKS, SECRET_ENV, ConnectorCase, check_config
from tests.connectors.fakeserver import FakeServer, Reply

DOCS = Path(__file__).resolve().parents[2] / "docs" / "connectors" / "argocd.md"
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
WINDOW = Window(T0 - timedelta(hours=6), T0 + timedelta(minutes=30))
TOKEN = "argocd-TestToken-eyJhbGciOiJIUzI1NiJ9"
GITOPS = "https://github.com/acme/gitops.git"


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha(n: int) -> str:
    return f"{n:040x}"


# ---------------------------------------------------------------- documented payload shapes


def git_source(path: str, target: str = "HEAD") -> dict[str, Any]:
    """A v1alpha1ApplicationSource of a git directory."""
    return {"repoURL": GITOPS, "path": path, "targetRevision": target}


def helm_source(chart: str, version: str) -> dict[str, Any]:
    """A v1alpha1ApplicationSource of a Helm chart."""
    return {"repoURL": "https://charts.example.com", "chart": chart, "targetRevision": version, "helm": {}}


def history(n: int, deployed: datetime, revision: str, source: dict[str, Any], **initiated: Any) -> dict:
    """One v1alpha1RevisionHistory entry of `status.history`."""
    return {
        "id": n,
        "revision": revision,
        "deployStartedAt": _iso(deployed - timedelta(seconds=40)),
        "deployedAt": _iso(deployed),
        "source": source,
        "initiatedBy": initiated or {"automated": True},
    }


def operation(phase: str, started: datetime, revision: str, source: dict[str, Any], **kw: Any) -> dict:
    """A v1alpha1OperationState of a sync (`status.operationState`)."""
    state = {
        "operation": {
            "sync": {"revision": revision, "syncStrategy": {"hook": {}}},
            "initiatedBy": {"username": "admin"},
            "retry": {},
        },
        "phase": phase,
        "message": kw.pop("message", "successfully synced (all tasks run)"),
        "startedAt": _iso(started),
        "syncResult": {"resources": [], "revision": revision, "source": source},
    }
    if kw.get("finished") is not None:
        state["finishedAt"] = _iso(kw["finished"])
    return state


def application(name: str, source: dict, entries: list[dict], op: dict | None = None, **labels: str) -> dict:
    """A v1alpha1Application as the list endpoint returns it."""
    return {
        "metadata": {
            "name": name,
            "namespace": "argocd",
            "uid": f"6c3b0b7e-{len(name):04d}-4c1d-9a51-1f2e3d4c5b6a",
            "resourceVersion": "812345",
            "generation": 57,
            "creationTimestamp": "2023-11-02T08:00:00Z",
            "labels": labels,
        },
        "spec": {
            "source": source,
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
            "project": "shop",
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
        "status": {
            "resources": [
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": name, "name": name}
            ],
            "sync": {"status": "Synced", "revision": entries[-1]["revision"] if entries else ""},
            "health": {"status": "Healthy"},
            "history": entries,
            "reconciledAt": _iso(T0 + timedelta(hours=1)),
            **({"operationState": op} if op else {}),
            "sourceType": "Helm" if "chart" in source else "Kustomize",
            "summary": {"images": [f"acme/{name}:1.4.2"]},
            "controllerNamespace": "argocd",
        },
    }


def shop_applications() -> dict[str, Any]:
    """The ApplicationList: a git app with a rollback and a failed sync, a Helm app, a syncing app."""
    checkout_src = git_source("apps/checkout")
    checkout = application(
        "checkout-prod",
        checkout_src,
        [
            history(1, WINDOW.start - timedelta(hours=2), _sha(1), checkout_src),  # before the window
            history(2, T0 - timedelta(hours=3), _sha(2), checkout_src, username="alice"),
            history(
                3, T0 - timedelta(hours=2, minutes=50), _sha(1), checkout_src, username="bob"
            ),  # rollback
            history(4, T0 - timedelta(hours=2), _sha(1), checkout_src),  # a resync of the same revision
            history(5, T0 - timedelta(hours=1), _sha(3), checkout_src),
        ],
        operation(
            "Failed",
            T0 - timedelta(minutes=6),
            _sha(4),
            checkout_src,
            finished=T0 - timedelta(minutes=5),
            message="one or more objects failed to apply",
        ),
        **{"app.kubernetes.io/part-of": "checkout", "env": "production"},
    )
    chart = helm_source("payments", "1.3.0")
    payments = application(
        "payments",
        chart,
        [
            history(7, T0 - timedelta(hours=4), "1.2.0", helm_source("payments", "1.2.0")),
            history(8, T0 - timedelta(minutes=30), "1.3.0", chart),
        ],
        operation(
            "Succeeded", T0 - timedelta(minutes=31), "1.3.0", chart, finished=T0 - timedelta(minutes=30)
        ),
        **{"app.kubernetes.io/part-of": "payments-svc"},
    )
    search_src = git_source("apps/search", "v2.0.0")
    search = application(
        "search",
        search_src,
        [history(1, T0 - timedelta(hours=5), _sha(9), search_src)],
        operation(
            "Running", T0 + timedelta(minutes=10), _sha(10), search_src, message="waiting for healthy state"
        ),
    )
    return {"metadata": {"resourceVersion": "812399"}, "items": [checkout, payments, search]}


def config(url: str, **kw: Any) -> ArgoCDConfig:
    """Services from the part-of label (search mapped by name), environments from `env`, fast retries."""
    fields = {
        "url": url,
        "token": SecretStr(TOKEN),
        "projects": ["shop", "platform"],
        "service_label": "app.kubernetes.io/part-of",
        "services": {"search": "search-api"},
        "environment_label": "env",
        "environment": "prod",
        "backoff": 0,
        "max_wait": 5,
        **kw,
    }
    return ArgoCDConfig(**fields)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """A started local server with the shop applications, stopped after the test."""
    with FakeServer() as fake:
        fake.route("GET", "/api/v1/applications", Reply(json=shop_applications()))
        yield fake


# ---------------------------------------------------------------- history, rollbacks and operations


def test_history_entries_are_deploys_and_going_back_is_a_rollback(server: FakeServer) -> None:
    collected = ArgoCDConnector(config(server.url), "argo").fetch_deploys(WINDOW)
    got = {c.id: c for c in collected.records}
    assert "argocd/checkout-prod#1" not in got  # deployed before the window
    kinds = {i: got[f"argocd/checkout-prod#{i}"].kind for i in (2, 3, 4, 5)}
    assert kinds == {2: "deploy", 3: "rollback", 4: "deploy", 5: "deploy"}
    back = got["argocd/checkout-prod#3"]
    assert (back.rollback_of, back.rollback_to) == ("argocd/checkout-prod#2", "argocd/checkout-prod#1")
    assert (back.ts, back.sha, back.actor, back.status) == (
        T0 - timedelta(hours=2, minutes=50),
        _sha(1),
        "bob",
        "succeeded",
    )
    two = got["argocd/checkout-prod#2"]
    assert (two.service, two.environment, two.project, two.app) == (
        "checkout",
        "production",
        "shop",
        "checkout-prod",
    )
    assert two.deploy_started_at == T0 - timedelta(hours=3, seconds=40) and two.version is None  # HEAD
    assert two.url == f"{server.url}/applications/argocd/checkout-prod"
    assert got["argocd/checkout-prod#4"].actor == "automated"
    for change in collected.records:
        Change.model_validate(change.model_dump())


def test_a_failed_sync_operation_is_a_failed_deploy(server: FakeServer) -> None:
    got = {c.id: c for c in ArgoCDConnector(config(server.url), "argo").fetch_deploys(WINDOW).records}
    failed = got["argocd/checkout-prod#op@2024-03-01T09:54:00Z"]
    assert (failed.status, failed.kind, failed.ts) == ("failed", "deploy", T0 - timedelta(minutes=5))
    assert (failed.sha, failed.actor, failed.phase) == (_sha(4), "admin", "Failed")
    assert failed.message == "one or more objects failed to apply"


def test_a_succeeded_operation_in_history_is_not_counted_twice_and_helm_versions(server: FakeServer) -> None:
    records = ArgoCDConnector(config(server.url), "argo").fetch_deploys(WINDOW).records
    payments = [c for c in records if c.app == "payments"]
    assert [(c.id, c.version, c.sha, c.service) for c in payments] == [
        ("argocd/payments#7", "1.2.0", None, "payments-svc"),
        ("argocd/payments#8", "1.3.0", None, "payments-svc"),
    ]
    assert {c.environment for c in payments} == {"prod"}  # no env label: the configured environment


def test_a_running_sync_has_no_status_yet(server: FakeServer) -> None:
    records = ArgoCDConnector(config(server.url), "argo").fetch_deploys(WINDOW).records
    search = [c for c in records if c.app == "search"]
    assert [(c.kind, c.status, c.ts, c.service, c.version) for c in search] == [
        ("deploy", "succeeded", T0 - timedelta(hours=5), "search-api", "v2.0.0"),
        ("deploy", None, T0 + timedelta(minutes=10), "search-api", "v2.0.0"),
    ]


def test_the_app_name_is_the_default_service_and_operations_can_be_left_out(server: FakeServer) -> None:
    records = (
        ArgoCDConnector(config(server.url, service_label=None, services={}, sync_operations=False), "argo")
        .fetch_deploys(WINDOW)
        .records
    )
    assert {c.service for c in records} == {"checkout-prod", "payments", "search"}
    assert not [c for c in records if "#op@" in c.id]


@pytest.mark.parametrize(
    ("phase", "status"), [("Error", "failed"), ("Terminating", None), ("Succeeded", "succeeded")]
)
def test_operation_phases(phase: str, status: str | None) -> None:
    src = git_source("apps/x")
    app = application(
        "x",
        src,
        [
            history(1, T0 - timedelta(hours=2), _sha(1), src),
            history(2, T0 - timedelta(hours=1), _sha(2), src),
        ],
        operation(phase, T0, _sha(1), src, finished=T0 + timedelta(minutes=1)),  # back to the first revision
    )
    *_, op = app_changes(app, config("http://argocd.example.com"), "here")
    assert (op.status, op.kind, op.ts) == (status, "rollback", T0 + timedelta(minutes=1))
    assert (op.rollback_of, op.rollback_to) == ("argocd/x#2", "argocd/x#1")


def test_multi_source_applications_use_their_revisions() -> None:
    sources = [git_source("apps/y"), helm_source("y", "0.9.1")]
    entry = {**history(1, T0, "", sources[0]), "revision": None, "source": None}
    entry.update({"revisions": [_sha(5), "0.9.1"], "sources": sources})
    app = application("y", sources[0], [entry])
    [change] = app_changes(app, config("http://argocd.example.com"), "here")
    assert (change.sha, change.version, change.revision) == (_sha(5), "0.9.1", f"{_sha(5)},0.9.1")


# ---------------------------------------------------------------- requests and errors


def test_request_parameters_and_bearer_token(server: FakeServer) -> None:
    ArgoCDConnector(config(server.url, selector="team=shop", app_namespace="argocd"), "argo").fetch_deploys(
        WINDOW
    )
    [request] = server.requests
    assert request.query["projects"] == ["shop", "platform"]
    assert (request.arg("selector"), request.arg("appNamespace")) == ("team=shop", "argocd")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_no_matching_application_is_items_null() -> None:
    with FakeServer() as fake:
        fake.route(
            "GET", "/api/v1/applications", Reply(json={"metadata": {"resourceVersion": "1"}, "items": None})
        )
        collected = ArgoCDConnector(config(fake.url), "argo").fetch_deploys(WINDOW)
    assert collected.records == [] and len(collected.raw) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], r"expected an ApplicationList object"),
        ({"items": [{"metadata": {}}]}, r"items\[0\]: field 'metadata.name' is missing"),
        (
            {
                "items": [
                    application(
                        "z", git_source("z"), [{**history(1, T0, _sha(1), {}), "deployedAt": "yesterday"}]
                    )
                ]
            },
            r"items\[0\] status.history id 1 field 'deployedAt': 'yesterday' is not an ISO 8601",
        ),
    ],
)
def test_bad_answers_are_payload_errors_naming_the_url_and_field(body: Any, message: str) -> None:
    with FakeServer() as fake:
        fake.route("GET", "/api/v1/applications", Reply(json=body))
        with pytest.raises(
            PayloadError, match=r"GET http://127\.0\.0\.1:\d+/api/v1/applications\?projects=shop.*" + message
        ):
            ArgoCDConnector(config(fake.url), "argo").fetch_deploys(WINDOW)


def test_an_expired_token_is_not_retried(server: FakeServer) -> None:
    body = {"error": "invalid session: token has invalid claims: token is expired", "code": 16}
    server.inject("GET", "/api/v1/applications", Reply(401, json={**body, "message": body["error"]}))
    with pytest.raises(HttpError, match=r"HTTP 401 .*token is expired") as err:
        ArgoCDConnector(config(server.url), "argo").fetch_deploys(WINDOW)
    assert err.value.status == 401 and len(server.requests) == 1 and TOKEN not in str(err.value)


# ---------------------------------------------------------------- config


def test_config_secrets_come_from_references_and_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    check_config(CONNECTOR, {"url": "https://argocd.example.com", "token": {"env": SECRET_ENV}}, monkeypatch)


def test_the_documented_example_is_a_valid_config(monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S)
    assert block is not None, f"{DOCS} has no ```toml example"
    monkeypatch.setenv("ARGOCD_TOKEN", "t0ken-value")
    for name, table in tomllib.loads(block[1])["connectors"].items():
        assert isinstance(connector_config(name, table).settings, ArgoCDConfig)


# ---------------------------------------------------------------- conformance


CASE = ConnectorCase(
    capability="deploys",
    build=lambda url, secret: CONNECTOR.create(config(url, token=SecretStr(secret), retries=3), "argo"),
    script=lambda fake: fake.route("GET", "/api/v1/applications", Reply(json=shop_applications())),
    endpoint="/api/v1/applications",
    window=WINDOW,
    min_records=9,
    pages=1,  # Argo CD does not paginate the application list
)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_conformance(check, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    check(CASE, caplog, tmp_path)
