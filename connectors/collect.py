"""`postmortem collect`: pull an incident's evidence from every configured connector into a bundle.

Every capability of every connector is pulled concurrently; a failing source is recorded in
`manifest.json` and does not stop the others. The output is a bundle v1 directory plus `raw/`
(payloads as received, with an index) and `manifest.json`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

from connectors.base import (
    WINDOW_METHODS,
    Collected,
    IncidentEvidenceSource,
    Window,
    capabilities_of,
    fetch,
    fetch_evidence,
)
from connectors.bundle import write_bundle
from connectors.bundle_documents import read_incident
from connectors.bundle_format import DATASETS
from connectors.config import (
    ConfigError,
    PostmortemConfig,
)
from connectors.incident_ref import fetch_current_incident
from connectors.redact import redact_text, redact_url
from postmortem.model import Action, Incident

log = logging.getLogger(__name__)

MANIFEST_VERSION = "1"
_EXTENSIONS = {
    "application/json": "json",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "text/plain": "txt",
    "text/csv": "csv",
    "application/openmetrics-text": "txt",
}


@dataclass
class SourceResult:
    """What one capability of one connector gave (or why it failed), as written in the manifest."""

    source: str
    type: str
    capability: str | None
    status: Literal["ok", "error"]
    records: int = 0
    duration_s: float = 0.0
    requests: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class CollectResult:
    """The outcome of a collection: bundle path, window, each source's result, records per dataset."""

    path: Path
    window: Window
    sources: list[SourceResult]
    datasets: dict[str, int]
    duration_s: float

    @property
    def partial(self) -> bool:
        """True when at least one source failed."""
        return any(s.status == "error" for s in self.sources)

    @property
    def errors(self) -> list[str]:
        """`source/capability: message` for each failed source."""
        return [
            f"{s.source}/{s.capability or 'build'}: {s.error}" for s in self.sources if s.status == "error"
        ]


def incident_window(
    incident: Incident, before: timedelta = timedelta(hours=6), after: timedelta = timedelta(minutes=30)
) -> Window:
    """`before` ahead of impact start (started_at, else the first milestone) to `after` past resolution."""
    stamps = [t for t in incident.milestones().values() if t is not None]
    if not stamps:
        raise ValueError(
            f"incident {incident.id!r} has no milestone timestamps to derive the evidence window from"
        )
    start = incident.started_at or min(stamps)
    end = incident.resolved_at or max(stamps)
    return Window(start - before, max(end, start) + after)


# ---------------------------------------------------------------- collection


@dataclass
class _Pull:
    result: SourceResult
    collected: Collected | None = None


def _secret_values(config: PostmortemConfig) -> list[str]:
    """Every resolved secret of the configured connectors, for redaction of free text."""
    values = []
    for cc in config.connectors.values():
        for name in type(cc.settings).model_fields:
            value = getattr(cc.settings, name)
            if isinstance(value, SecretStr):
                values.append(value.get_secret_value())
    return values


def _pull(
    connector: object, source: str, kind: str, capability: str, window: Window, secrets: list[str]
) -> _Pull:
    """Run one capability, timing it; any failure becomes an error result (never raised)."""
    started = time.perf_counter()
    try:
        collected = fetch(connector, capability, window)
        model = DATASETS[capability].model
        wrong = next((r for r in collected.records if not isinstance(r, model)), None)
        if wrong is not None:
            raise TypeError(f"returned a {type(wrong).__name__} record, expected {model.__name__}")
    except Exception as exc:  # one source failing must not stop the others: it is reported in the manifest
        return _failed(source, kind, capability, exc, time.perf_counter() - started, secrets)
    return _done(source, kind, capability, collected, time.perf_counter() - started, secrets)


def _failed(
    source: str, kind: str, capability: str, exc: Exception, elapsed: float, secrets: list[str]
) -> _Pull:
    """The error result of a failed pull (message redacted)."""
    message = redact_text(f"{type(exc).__name__}: {exc}", secrets)
    log.warning("collect %s/%s failed: %s", source, capability, message)
    return _Pull(SourceResult(source, kind, capability, "error", duration_s=elapsed, error=message))


def _done(
    source: str, kind: str, capability: str, collected: Collected, elapsed: float, secrets: list[str]
) -> _Pull:
    """The ok result of a pull, with its redacted requests and warnings."""
    log.info("collect %s/%s: %d records in %.2f s", source, capability, len(collected.records), elapsed)
    result = SourceResult(
        source,
        kind,
        capability,
        "ok",
        records=len(collected.records),
        duration_s=elapsed,
        requests=[redact_text(redact_url(p.uri), secrets) for p in collected.raw],
        warnings=[redact_text(w, secrets) for w in collected.warnings],
    )
    return _Pull(result, collected)


def _pull_evidence(
    connector: object, source: str, kind: str, incident_id: str, secrets: list[str]
) -> list[_Pull]:
    """The incident's own evidence from its source (log, notes, updates, follow-ups), one pull per dataset."""
    started = time.perf_counter()
    try:
        parts = fetch_evidence(connector, incident_id)
        for part in parts:
            model = DATASETS[part.dataset].model if part.dataset in DATASETS else Action
            wrong = next((r for r in part.records if not isinstance(r, model)), None)
            if wrong is not None:
                raise TypeError(
                    f"returned a {type(wrong).__name__} {part.dataset} record, expected {model.__name__}"
                )
    except Exception as exc:  # reported in the manifest like any failing source
        return [_failed(source, kind, "incident_evidence", exc, time.perf_counter() - started, secrets)]
    elapsed = time.perf_counter() - started
    return [_done(source, kind, part.dataset, part, elapsed, secrets) for part in parts]


def _build_all(
    config: PostmortemConfig, only: Sequence[str] | None
) -> tuple[list[tuple[str, str, object]], list[_Pull]]:
    names = list(config.connectors)
    if only is not None:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise ValueError(
                f"--only names unknown connectors {unknown} (configured: {', '.join(names) or 'none'})"
            )
        names = [n for n in names if n in set(only)]
    built, failed = [], []
    for name in names:
        cc = config.connectors[name]
        try:
            built.append((name, cc.type, cc.build()))
        except Exception as exc:  # a connector that cannot be built is one failed source, reported
            message = redact_text(f"{type(exc).__name__}: {exc}", _secret_values(config))
            log.warning("collect %s: cannot build the connector: %s", name, message)
            failed.append(_Pull(SourceResult(name, cc.type, None, "error", error=message)))
    return built, failed


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name) or "_"


def _write_raw(root: Path, pulls: list[_Pull], secrets: list[str]) -> None:
    """raw/<source>/<nnnn>.<ext> for every payload, plus raw/index.json; fills each result's `raw` list."""
    index = []
    counters: dict[str, int] = {}
    for pull in pulls:
        if pull.collected is None:
            continue
        folder = _safe(pull.result.source)
        for payload in pull.collected.raw:
            counters[folder] = counters.get(folder, 0) + 1
            ext = _EXTENSIONS.get(payload.content_type, "bin")
            rel = f"raw/{folder}/{counters[folder]:04d}.{ext}"
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(payload.content)
            pull.result.raw.append(rel)
            index.append(
                {
                    "file": rel,
                    "source": payload.source,
                    "capability": pull.result.capability,
                    "uri": redact_text(redact_url(payload.uri), secrets),
                    "content_type": payload.content_type,
                    "bytes": len(payload.content),
                    "sha256": hashlib.sha256(payload.content).hexdigest(),
                }
            )
    (root / "raw").mkdir(exist_ok=True)
    (root / "raw" / "index.json").write_text(json.dumps(index, indent=2) + "\n")


def _rows(dataset: str, parts: list[Collected]) -> Iterator[dict[str, Any]]:
    """Records as plain rows for write_bundle, streamed (the CSV dataset needs only its columns)."""
    spec = DATASETS[dataset]
    if spec.file.endswith(".csv"):
        columns = spec.required
        return ({c: getattr(r, c) for c in columns} for part in parts for r in part.records)
    return (r.model_dump(mode="json") for part in parts for r in part.records)


def _prepare_out(out: Path) -> Path:
    """A temporary directory next to `out`; `out` must be absent, empty or an earlier collect output."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "manifest.json").exists())):
        raise ValueError(
            f"{out} exists and is not an earlier collect output; choose an empty or new directory"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def collect(
    incident: Incident,
    config: PostmortemConfig,
    out: Path,
    *,
    window: Window | None = None,
    only: Sequence[str] | None = None,
) -> CollectResult:
    """Pull every capability of every configured connector for the window; write the bundle to `out`."""
    began, started_at = time.perf_counter(), datetime.now(UTC)
    out = Path(out)
    window = window or incident_window(incident, config.collect.before, config.collect.after)
    built, failed = _build_all(config, only)
    secrets = _secret_values(config)
    jobs = [
        (name, kind, conn, cap)
        for name, kind, conn in built
        for cap in capabilities_of(conn)
        if cap in WINDOW_METHODS
    ]
    # the incident's own record keeper (the source that resolved it) adds its log, notes and follow-ups
    own = [
        (name, kind, conn)
        for name, kind, conn in built
        if name == getattr(incident, "source", None) and isinstance(conn, IncidentEvidenceSource)
    ]
    tmp = _prepare_out(out)
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(config.collect.max_workers, len(jobs) or 1))) as pool:
            futures = [
                pool.submit(_pull, conn, name, kind, cap, window, secrets) for name, kind, conn, cap in jobs
            ]
            evidence = [
                pool.submit(_pull_evidence, conn, name, kind, incident.id, secrets)
                for name, kind, conn in own
            ]
            pulls = failed + [f.result() for f in futures] + [p for f in evidence for p in f.result()]
        ok = [p for p in pulls if p.collected is not None]
        by_dataset: dict[str, list[Collected]] = {}
        for pull in ok:
            by_dataset.setdefault(pull.collected.dataset, []).append(pull.collected)  # type: ignore[union-attr]
        actions = [a.model_dump(mode="json") for part in by_dataset.get("actions", []) for a in part.records]
        datasets = {name: _rows(name, parts) for name, parts in by_dataset.items() if name in DATASETS}
        topology = config.topology.services if config.topology is not None else None
        write_bundle(tmp, incident.model_dump(mode="json"), datasets, topology=topology, actions=actions)
        _write_raw(tmp, pulls, secrets)
        counts = {name: sum(len(p.records) for p in parts) for name, parts in by_dataset.items()}
        result = CollectResult(out, window, [p.result for p in pulls], counts, time.perf_counter() - began)
        _write_manifest(tmp, incident, result, started_at, by_dataset)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def _write_manifest(
    root: Path,
    incident: Incident,
    result: CollectResult,
    started_at: datetime,
    parts: dict[str, list[Collected]],
) -> None:
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "incident": incident.id,
        "window": {"start": _iso(result.window.start), "end": _iso(result.window.end)},
        "collected_at": _iso(started_at),
        "duration_s": round(result.duration_s, 3),
        "status": "partial" if result.partial else "complete",
        "datasets": {
            name: {
                "file": DATASETS[name].file if name in DATASETS else f"{name}.jsonl",
                "records": result.datasets[name],
                "sources": sorted(
                    {r.source for r in result.sources if r.capability == name and r.status == "ok"}
                ),
            }
            for name in parts
        },
        "sources": [{**asdict(s), "duration_s": round(s.duration_s, 3)} for s in result.sources],
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


# ---------------------------------------------------------------- incident lookup


def fetch_incident(config: PostmortemConfig, incident_id: str) -> Incident:
    """The incident from the configured source its id names (`<source>:<id>`, see connectors.incident_ref)."""
    if not any("incident" in cc.connector_type.capabilities for cc in config.connectors.values()):
        raise ConfigError(["no configured connector can resolve incident ids (capability 'incident')"])
    try:
        return fetch_current_incident(config, incident_id)
    except ValueError:  # ConfigError (which source?), an incident record the adapter cannot read
        raise
    except Exception as exc:  # the source failed (HTTP error, not found): a lookup failure, reported
        detail = redact_text(f"{type(exc).__name__}: {exc}", _secret_values(config))
        raise LookupError(f"incident {incident_id!r} could not be fetched: {detail}") from None


def resolve_incident(config: PostmortemConfig, incident: str | Path) -> Incident:
    """The incident of an incident.json path (or a bundle directory holding one), else of an incident id."""
    path = Path(incident)
    if path.is_dir() and (path / "incident.json").is_file():
        return read_incident(path / "incident.json")
    if path.is_file():
        return read_incident(path)
    if not any("incident" in cc.connector_type.capabilities for cc in config.connectors.values()):
        raise ConfigError(
            [
                f"{incident}: no such incident.json file or bundle directory, and no configured connector "
                "can resolve incident ids (capability 'incident')"
            ]
        )
    return fetch_incident(config, str(incident))
