"""The per-incident `postmortem` flow: load, validate, analyse, publish, audit."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from connectors.incident_ref import is_resolved
from postmortem.model import Incident
from postmortem.settings import get_settings
from postmortem.summary import summarize
from tasks import pipeline
from tasks import served_validation as served


@flow(name="postmortem")
def postmortem(
    incident_id: str,
    bundle: str | None = None,
    rerun_reason: str | None = None,
    config: str | None = None,
    incident: str | None = None,
) -> dict[str, Any]:
    """Turn one closed incident into a versioned postmortem, tickets and an audit record.

    Evidence comes from `bundle` (a bundle directory), or is collected first with `config` (a
    postmortem.toml) into `<data_dir>/bundles/<incident_id>/`; `incident` is then an incident.json path
    (default: `incident_id`, resolved by a configured incident source).
    An `incident_id` such as `incident.pagerduty.P123ABC` or `pagerduty:P123ABC` is fetched fresh from
    that source first; an incident not resolved there ends the run without a report.
    """
    logger = get_run_logger()
    settings = get_settings()
    if bundle and config:
        raise ValueError(f"incident {incident_id}: pass either `bundle` or `config`, not both")
    if not bundle and not config:
        raise ValueError(
            f"incident {incident_id}: no evidence source; pass `bundle=<path to an incident bundle>` "
            "or `config=<path to postmortem.toml>` to collect it"
        )
    source: str | Incident = incident or incident_id  # what collect resolves, or the record fetched
    if config and not incident:  # a live incident: fetch it fresh, so a stale webhook cannot mislead the run
        current = pipeline.fetch_incident(config, incident_id)
        if not is_resolved(current):
            logger.info(
                "incident %s is %r at its source, not resolved: no postmortem yet", current.id, current.status
            )
            return {"incident": current.id, "status": "not_resolved", "incident_status": current.status}
        source, incident_id = current, current.id
    collection = None
    if config:
        collection = pipeline.collect_evidence(config, source, incident_id, str(settings.data_dir))
        bundle = collection["bundle"]
        if collection["status"] != "complete":
            logger.warning(
                "incident %s: partial evidence, failed sources: %s",
                incident_id,
                "; ".join(collection["errors"]),
            )
    deferred = served.defer(served.validate_bundle, bundle) if settings.validation_worker else None
    loaded = pipeline.load(bundle)
    if loaded.incident.id != incident_id:
        raise ValueError(f"bundle {bundle} holds incident {loaded.incident.id!r}, not {incident_id!r}")
    quality = pipeline.validate(loaded, deferred, settings.validation_timeout)
    docs = served.defer_docs(quality, settings.data_dir, incident_id) if settings.validation_worker else None
    history = pipeline.read_history(settings.db_url, incident_id)
    analysis = pipeline.analyse(loaded, quality, history)
    published = pipeline.publish(
        settings.db_url,
        loaded,
        analysis,
        str(settings.reports_dir),
        settings.ticket_prefix,
        docs,
        settings.validation_timeout,
    )
    pipeline.publish_artifacts(analysis, published)
    summary = summarize(analysis, published)
    if collection is not None:
        summary["collection"] = collection
    pipeline.audit(settings.db_url, incident_id, {"rerun_reason": rerun_reason, **summary})
    logger.info("postmortem %s: report v%s at %s", incident_id, published.version, published.report_dir)
    return summary
