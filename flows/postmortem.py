"""The per-incident `postmortem` flow: load, validate, analyse, publish, audit."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from postmortem.settings import get_settings
from postmortem.summary import summarize
from tasks import pipeline


@flow(name="postmortem")
def postmortem(
    incident_id: str, bundle: str | None = None, rerun_reason: str | None = None
) -> dict[str, Any]:
    """Turn one closed incident into a versioned postmortem, tickets and an audit record."""
    logger = get_run_logger()
    settings = get_settings()
    if not bundle:
        raise ValueError(
            f"incident {incident_id}: no bundle given and no incident source is configured; "
            "pass `bundle=<path to an incident bundle>`"
        )
    loaded = pipeline.load(bundle)
    if loaded.incident.id != incident_id:
        raise ValueError(f"bundle {bundle} holds incident {loaded.incident.id!r}, not {incident_id!r}")
    quality = pipeline.validate(loaded)
    history = pipeline.read_history(settings.db_url, incident_id)
    analysis = pipeline.analyse(loaded, quality, history)
    published = pipeline.publish(
        settings.db_url, loaded, analysis, str(settings.reports_dir), settings.ticket_prefix
    )
    pipeline.publish_artifacts(analysis, published)
    summary = summarize(analysis, published)
    pipeline.audit(settings.db_url, incident_id, {"rerun_reason": rerun_reason, **summary})
    logger.info("postmortem %s: report v%s at %s", incident_id, published.version, published.report_dir)
    return summary
