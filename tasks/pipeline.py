"""Thin Prefect tasks over the pure pipeline functions: retries on I/O, no per-event tasks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from connectors.bundle import Bundle, load_bundle
from connectors.config import load_config
from connectors.incident_ref import fetch_current_incident
from postmortem.model import Analysis, Incident, PastIncident, QualityResult
from postmortem.store import open_store
from reports.caveats import quality_description, quality_table
from tasks import publish as pub
from tasks import served_validation as served
from tasks.analyze import analyze
from tasks.collect import collect_incident
from tasks.quality import QUALITY_CHECKS_VERSION, check_quality
from tasks.quality.docs import write_data_docs


def retry_unless_bad_input(task: Any, task_run: Any, state: Any) -> bool:
    """Retry condition: I/O failures are retried; a bad config or incident (ValueError) fails at once."""
    return not isinstance(state.data, ValueError)


@task(
    name="collect-evidence",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_unless_bad_input,
    cache_policy=NO_CACHE,
)
def collect_evidence(
    config: str, incident: str | Incident, incident_id: str, data_dir: str
) -> dict[str, Any]:
    """Pull the incident's evidence from every configured connector into `<data_dir>/bundles/<id>/`
    (`incident`: a path or id to resolve, or the record already fetched)."""
    return collect_incident(config, incident, data_dir, expected_id=incident_id).as_dict()


@task(
    name="fetch-incident",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_unless_bad_input,
    cache_policy=NO_CACHE,
)
def fetch_incident(config: str, incident_id: str) -> Incident:
    """The incident fresh from the source its id names (`incident.<source>.<id>`, `<source>:<id>`, `<id>`)."""
    return fetch_current_incident(load_config(config), incident_id)


@task(name="load-bundle", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def load(path: str) -> Bundle:
    """Read the incident bundle (structural errors fail the run without retry)."""
    return load_bundle(path)


@task(name="validate-evidence", cache_policy=NO_CACHE)
def validate(bundle: Bundle, deferred: UUID | None = None, timeout: float = 300.0) -> list[QualityResult]:
    """The data-quality results of the raw evidence: the validation worker's when the bundle was sent
    to one (`deferred`: its task run) and it answers within `timeout` seconds, else checked here."""
    if deferred is not None:
        done, results = served.answer(deferred, timeout)
        if done:
            return results
    return check_quality(bundle)


@task(name="read-history", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def read_history(db_url: str, incident_id: str) -> list[PastIncident]:
    """Past incidents for similarity search."""
    with open_store(db_url) as store:
        return store.past_incidents(exclude_id=incident_id)


@task(name="analyse", cache_policy=NO_CACHE)
def analyse(bundle: Bundle, quality: Sequence[QualityResult], history: Sequence[PastIncident]) -> Analysis:
    """Timeline, signals and remediation gate."""
    return analyze(bundle, history=history, quality=quality)


@task(name="publish", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def publish(
    db_url: str,
    bundle: Bundle,
    analysis: Analysis,
    reports_dir: str,
    prefix: str,
    staged_docs: served.StagedDocs | None = None,
    docs_timeout: float = 300.0,
) -> pub.Published:
    """Store evidence and analysis, create tickets and write the versioned reports (idempotent).

    With `staged_docs`, the Data Docs are those a validation worker is writing (waiting `docs_timeout`)."""
    docs = served.staged_docs_writer(staged_docs, docs_timeout) if staged_docs else write_data_docs
    try:
        with open_store(db_url) as store:
            pub.store_evidence(store, bundle, analysis)
            tickets, created = pub.publish_tickets(store, analysis, prefix)
            published = pub.publish_reports(store, analysis, tickets, Path(reports_dir), docs)
    finally:
        served.discard(staged_docs)
    published.tickets_created = created
    return published


@task(name="publish-artifacts", cache_policy=NO_CACHE)
def publish_artifacts(analysis: Analysis, published: pub.Published) -> None:
    """The markdown report and the tables of root-cause candidates and data-quality results as artifacts."""
    key = artifact_key(analysis.incident.id)
    create_markdown_artifact(
        key=f"{key}-report",
        markdown=published.files["engineering.md"].read_text(encoding="utf-8"),
        description=f"Engineering postmortem {analysis.incident.id} v{published.version}",
    )
    create_table_artifact(
        key=f"{key}-root-cause",
        table=candidate_rows(analysis),
        description=f"Root-cause candidates for {analysis.incident.id} ({analysis.root_cause.verdict})",
    )
    create_table_artifact(
        key=f"{key}-data-quality",
        table=quality_table(analysis.data_quality),
        description=quality_description(analysis, published.data_docs, QUALITY_CHECKS_VERSION),
    )


@task(name="audit", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def audit(db_url: str, incident_id: str, payload: dict[str, Any]) -> None:
    """Record the completed run in the hash-chained audit log."""
    with open_store(db_url) as store:
        store.append_audit(pub.ACTOR, "postmortem.completed", incident_id, payload)


def artifact_key(incident_id: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    slug = "".join(c if c.isalnum() else "-" for c in incident_id.lower()).strip("-")
    return f"postmortem-{slug}"


def candidate_rows(analysis: Analysis) -> list[dict[str, Any]]:
    """Ranked root-cause candidates (changes, then services) as table rows."""
    rc = analysis.root_cause
    rows = [
        {
            "rank": i,
            "candidate": f"{c.kind} {c.id}",
            "service": c.service or "",
            "score": round(c.score, 3),
            "confidence": c.confidence,
            "role": c.role,
            "evidence": "; ".join(c.evidence[:3]),
        }
        for i, c in enumerate(rc.changes, start=1)
    ]
    rows += [
        {
            "rank": i,
            "candidate": f"service {s.service}",
            "service": s.service,
            "score": round(s.score, 3),
            "confidence": "",
            "role": "",
            "evidence": "; ".join(s.evidence[:3]),
        }
        for i, s in enumerate(rc.services[:10], start=1)
    ]
    return rows
