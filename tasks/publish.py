"""Publishing: versioned report files, idempotent local tickets, raw payloads and the audit trail."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.bundle import Bundle
from postmortem.model import Analysis, ReportVersion
from postmortem.store import Store
from reports.render import render_reports
from tasks.quality.docs import INDEX, DocsWriter, write_data_docs
from tasks.timeline import DURATION_DEFINITIONS

ACTOR = "postmortem-flow"
DATA_DOCS = "data-docs"  # GX Data Docs folder beside the report files


@dataclass
class Published:
    """What one publish step produced."""

    version: int
    report_dir: Path
    new_version: bool
    files: dict[str, Path] = field(default_factory=dict)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    tickets_created: int = 0
    data_docs: Path | None = None


def store_evidence(store: Store, bundle: Bundle, analysis: Analysis) -> None:
    """Keep the incident, the raw bundle files as received, quarantined records and the analysis."""
    incident_id = bundle.incident.id
    store.save_incident(bundle.incident)
    if bundle.path is not None:
        for name in sorted(bundle.present):
            file = bundle.path / name
            store.save_raw_payload(incident_id, "bundle", str(file.resolve()), file.read_bytes())
    store.save_quarantine(incident_id, analysis.quarantine)
    store.save_analysis(analysis)


def publish_tickets(store: Store, analysis: Analysis, prefix: str) -> tuple[list[dict[str, Any]], int]:
    """One local ticket per gate-passing action; reruns return the existing tickets."""
    tickets, created = [], 0
    for verdict in analysis.remediation:
        if not verdict.passed:
            continue
        ticket, is_new = store.ensure_ticket(analysis.incident.id, verdict, prefix=prefix)
        created += int(is_new)
        tickets.append({**ticket.model_dump(mode="json"), "fingerprint": verdict.fingerprint})
        if is_new:
            store.append_audit(
                ACTOR, "ticket.created", analysis.incident.id, {"key": ticket.key, "title": verdict.title}
            )
    return tickets, created


def content_hash(files: dict[str, str]) -> str:
    """Hash of rendered report files, independent of version and generation time."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()


def publish_reports(
    store: Store,
    analysis: Analysis,
    tickets: Sequence[dict[str, Any]],
    reports_dir: Path,
    docs: DocsWriter = write_data_docs,
) -> Published:
    """Write the reports under `<reports_dir>/<incident>/v<N>/` (Data Docs with `docs`); a new version
    only when content changed."""
    incident_id = analysis.incident.id
    stable = render_reports(analysis, tickets=tickets, definitions=DURATION_DEFINITIONS)
    digest = content_hash(stable)
    latest = store.latest_report_version(incident_id)
    if latest is not None and latest.content_hash == digest and Path(latest.path).is_dir():
        folder = Path(latest.path)
        index = folder / DATA_DOCS / INDEX
        files = {n: folder / n for n in stable}
        return Published(
            latest.version, folder, False, files, list(tickets), data_docs=index if index.is_file() else None
        )
    version = (latest.version if latest else 0) + 1
    now = datetime.now(UTC)
    files = render_reports(
        analysis, tickets=tickets, version=version, generated_at=now, definitions=DURATION_DEFINITIONS
    )
    folder = reports_dir / _safe(incident_id) / f"v{version}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in files.items():
        paths[name] = folder / name
        paths[name].write_text(text, encoding="utf-8")
    index = docs(analysis.data_quality, folder / DATA_DOCS, f"{_safe(incident_id)}-v{version}", now)
    store.add_report_version(
        ReportVersion(
            incident_id=incident_id,
            version=version,
            content_hash=digest,
            parent_hash=latest.content_hash if latest else None,
            path=str(folder.resolve()),
            created_at=now,
        )
    )
    store.append_audit(ACTOR, "report.published", incident_id, {"version": version, "content_hash": digest})
    return Published(version, folder, True, paths, list(tickets), data_docs=index)


def _safe(incident_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in incident_id)
