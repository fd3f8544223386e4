"""Argo CD: application sync history and sync operations as deploys (`GET /api/v1/applications`).

Config (`[connectors.<name>] type = "argocd"`), client (the shared HttpClient with a bearer token; the
list is one unpaginated answer) and adapter: each `status.history` entry is a succeeded deploy at its
`deployedAt`; an entry that goes back to a revision deployed earlier, after a different one, is a
rollback; the current `status.operationState` adds a failed (`Failed`, `Error`) or in-flight
(`Running`, `Terminating`) sync, and a succeeded one that the history does not show yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, ValidationError

from connectors.base import Collected, Window
from connectors.config import HttpConfig, SecretRef
from connectors.http import BearerAuth, HttpClient
from connectors.http_errors import PayloadError
from connectors.payload import parse_time, require_time
from connectors.registry import ConnectorType
from connectors.vcs import dig, in_window, is_sha, iso_z, payload_error
from postmortem.model import Change

APPLICATIONS = "/api/v1/applications"
PHASES = {"Succeeded": "succeeded", "Failed": "failed", "Error": "failed"}
"""Finished operation phases and the deploy status they give (`Running`, `Terminating`: none yet)."""


# ---------------------------------------------------------------- config


class ArgoCDConfig(HttpConfig):
    """`type = "argocd"`: server URL, token, which applications, and how they map to services."""

    token: SecretRef | None = Field(None, description="API token (secret reference), sent as a Bearer token")
    projects: list[str] = Field(default_factory=list, description="only applications of these projects")
    selector: str | None = Field(None, description="label selector, e.g. team=payments")
    app_namespace: str | None = Field(None, description="only applications in this namespace")
    services: dict[str, str] = Field(default_factory=dict, description="application name -> service")
    service_label: str | None = Field(None, description="application label naming the service")
    environment_label: str | None = Field(None, description="application label naming the environment")
    environment: str | None = Field(None, description="environment of applications without that label")
    sync_operations: bool = Field(
        True, description="add the current sync operation when it is not in history"
    )

    def params(self) -> dict[str, Any]:
        """Query parameters of GET /api/v1/applications."""
        params: dict[str, Any] = {}
        if self.projects:
            params["projects"] = list(self.projects)
        if self.selector:
            params["selector"] = self.selector
        if self.app_namespace:
            params["appNamespace"] = self.app_namespace
        return params


# ---------------------------------------------------------------- adapter


def _sources(entry: dict[str, Any]) -> list[dict[str, Any]]:
    sources = [entry["source"]] if isinstance(entry.get("source"), dict) else entry.get("sources") or []
    return [s for s in sources if isinstance(s, dict)]


def revisions_of(entry: dict[str, Any]) -> tuple[str, ...]:
    """The deployed revision(s) of a history entry or sync result (one per source of multi-source apps)."""
    if entry.get("revision"):
        return (str(entry["revision"]),)
    return tuple(str(r) for r in entry.get("revisions") or [])


def version_of(revisions: tuple[str, ...], sources: list[dict[str, Any]]) -> str | None:
    """A Helm chart's version, else the source's targetRevision (a tag or branch; not `HEAD`)."""
    for revision, source in zip(revisions, sources, strict=False):
        if source.get("chart"):
            return revision
    targets = [s.get("targetRevision") for s in sources if s.get("targetRevision") not in (None, "", "HEAD")]
    return targets[0] if targets else None


def actor_of(initiated_by: Any) -> str | None:
    """Who started a sync: the user name, or `automated` for auto-sync."""
    if not isinstance(initiated_by, dict):
        return None
    return initiated_by.get("username") or ("automated" if initiated_by.get("automated") else None)


class AppView:
    """What every change of one application shares: its id, service, environment and UI link."""

    def __init__(self, app: dict[str, Any], config: ArgoCDConfig, where: str):
        meta = app.get("metadata") or {}
        self.name = meta.get("name")
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"{where}: field 'metadata.name' is missing")
        namespace = meta.get("namespace")
        labels = meta.get("labels") or {}
        self.app_id = f"{namespace}/{self.name}" if namespace else self.name
        self.service = (
            config.services.get(self.name)
            or (labels.get(config.service_label) if config.service_label else None)
            or self.name
        )
        self.environment = (
            labels.get(config.environment_label) if config.environment_label else None
        ) or config.environment
        self.project = dig(app, "spec.project")
        self.url = f"{config.url}/applications/{self.app_id}"

    def change(self, change_id: str, ts: datetime, revisions: tuple[str, ...], **fields: Any) -> Change:
        """A Change of this application."""
        return Change(
            id=f"{self.app_id}#{change_id}",
            ts=ts,
            service=self.service,
            sha=next((r for r in revisions if is_sha(r)), None),
            environment=self.environment,
            url=self.url,
            app=self.name,
            project=self.project,
            revision=",".join(revisions) or None,
            **fields,
        )


def app_changes(app: dict[str, Any], config: ArgoCDConfig, where: str) -> list[Change]:
    """Every change one application's status records (history entries, then the current operation)."""
    view = AppView(app, config, where)
    status = app.get("status") or {}
    history = [h for h in status.get("history") or [] if isinstance(h, dict)]
    history.sort(key=lambda h: h.get("id") or 0)
    changes: list[Change] = []
    last_id: dict[tuple[str, ...], str] = {}  # revisions -> the latest change that deployed them
    previous: tuple[tuple[str, ...], str] | None = None
    for entry in history:
        here = f"{where} status.history id {entry.get('id')}"
        revisions = revisions_of(entry)
        rollback = previous is not None and revisions != previous[0] and revisions in last_id
        change = view.change(
            str(entry.get("id")),
            require_time(entry.get("deployedAt"), f"{here} field 'deployedAt'"),
            revisions,
            version=version_of(revisions, _sources(entry)),
            status="succeeded",
            kind="rollback" if rollback else "deploy",
            actor=actor_of(entry.get("initiatedBy")),
            deploy_started_at=parse_time(entry.get("deployStartedAt"), f"{here} field 'deployStartedAt'"),
            **(
                {"rollback_of": previous[1], "rollback_to": last_id[revisions]}
                if rollback and previous
                else {}
            ),
        )
        changes.append(change)
        last_id[revisions] = change.id
        previous = (revisions, change.id)
    operation = status.get("operationState")
    if (
        config.sync_operations
        and isinstance(operation, dict)
        and dig(operation, "operation.sync") is not None
    ):
        change = operation_change(
            view, operation, changes, last_id, previous, f"{where} status.operationState"
        )
        if change is not None:
            changes.append(change)
    return changes


def operation_change(
    view: AppView,
    operation: dict[str, Any],
    history: list[Change],
    last_id: dict[tuple[str, ...], str],
    previous: tuple[tuple[str, ...], str] | None,
    where: str,
) -> Change | None:
    """The current sync operation as a Change, or None when it succeeded and the history shows it."""
    phase = operation.get("phase")
    started = require_time(operation.get("startedAt"), f"{where} field 'startedAt'")
    finished = parse_time(operation.get("finishedAt"), f"{where} field 'finishedAt'")
    revisions = revisions_of(operation.get("syncResult") or {}) or revisions_of(
        dig(operation, "operation.sync")
    )
    if phase == "Succeeded" and any(
        c.revision == (",".join(revisions) or None) and c.ts >= started for c in history
    ):
        return None
    rollback = previous is not None and revisions != previous[0] and revisions in last_id
    sources = _sources(operation.get("syncResult") or {})
    return view.change(
        f"op@{iso_z(started)}",
        finished or started,
        revisions,
        version=version_of(revisions, sources),
        status=PHASES.get(phase),
        kind="rollback" if rollback else "deploy",
        actor=actor_of(dig(operation, "operation.initiatedBy")),
        phase=phase,
        message=operation.get("message"),
        **({"rollback_of": previous[1], "rollback_to": last_id[revisions]} if rollback and previous else {}),
    )


# ---------------------------------------------------------------- connector


class ArgoCDConnector:
    """Reads application sync history and operations as deploys (capability `deploys`)."""

    def __init__(self, config: ArgoCDConfig, name: str, client: HttpClient | None = None):
        self.name = name
        self.config = config
        auth = BearerAuth(config.token) if config.token is not None else None
        self.client = client or config.client(name, auth=auth)

    def __repr__(self) -> str:
        return f"ArgoCDConnector(name={self.name!r}, client={self.client!r})"

    def fetch_deploys(self, window: Window) -> Collected:
        """Deploys, rollbacks and sync operations of the selected applications inside the window."""
        body, raw = self.client.get_json(APPLICATIONS, self.config.params())
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(items, list | None):
            raise PayloadError(
                f"GET {raw.uri}: expected an ApplicationList object with `items`", method="GET", url=raw.uri
            )
        collected = Collected("deploys", [], [raw])
        for i, app in enumerate(items or []):  # Argo CD sends `items: null` when nothing matches
            where = f"GET {raw.uri} items[{i}]"
            try:
                if not isinstance(app, dict):
                    raise ValueError(f"{where}: expected an Application object")
                changes = app_changes(app, self.config, where)
            except (ValueError, ValidationError) as exc:
                raise payload_error(exc, where) from None
            collected.records.extend(c for c in changes if in_window(c.ts, window))
        return collected


CONNECTOR = ConnectorType(
    type="argocd",
    config=ArgoCDConfig,
    factory=ArgoCDConnector,
    capabilities=("deploys",),
    summary="Argo CD applications: sync history (rollbacks detected) and sync operations as deploys",
)
