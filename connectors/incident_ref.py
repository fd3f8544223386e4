"""Which configured incident source an incident id belongs to, and whether that incident is over.

The `postmortem` flow is started with `incident_id` as the Prefect event resource id
(`incident.<source>.<id>`, e.g. `incident.pagerduty.P123ABC`), as `<source>:<id>`
(`pagerduty:P123ABC`) or as a bare id. `<source>` names a connector instance of `postmortem.toml`
(`[connectors.<source>]`) or, when no instance has that name, the one instance of that type.
The flow then fetches the incident fresh from that source, so a late, duplicated or out-of-order
webhook cannot produce a report of an incident in a state it is no longer in.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.base import IncidentSource
from connectors.config import ConfigError, ConnectorConfig, PostmortemConfig
from postmortem.model import Incident

RESOURCE_PREFIX = "incident."
RESOLVED_STATUSES = ("resolved", "closed")


@dataclass(frozen=True)
class IncidentRef:
    """An incident id and the incident source it names (None: the only configured one)."""

    source: str | None
    id: str

    def __str__(self) -> str:
        return f"{self.source}:{self.id}" if self.source else self.id


def parse_incident_ref(value: str) -> IncidentRef:
    """`incident.<source>.<id>`, `<source>:<id>`, `incident.<id>` or `<id>` as an IncidentRef."""
    text = value.strip()
    if text.startswith(RESOURCE_PREFIX):
        rest = text.removeprefix(RESOURCE_PREFIX)
        source, dot, iid = rest.partition(".")
        ref = IncidentRef(source, iid) if dot else IncidentRef(None, rest)
    elif ":" in text:
        source, _, iid = text.partition(":")
        ref = IncidentRef(source, iid)
    else:
        ref = IncidentRef(None, text)
    if not ref.id or ref.source == "":
        raise ValueError(
            f"incident id {value!r} is not `incident.<source>.<id>`, `<source>:<id>` or a bare incident id"
        )
    return ref


def incident_source(config: PostmortemConfig, ref: IncidentRef) -> ConnectorConfig:
    """The configured incident source the reference names (by instance name, else by type)."""
    sources = {
        name: cc for name, cc in config.connectors.items() if "incident" in cc.connector_type.capabilities
    }
    listed = ", ".join(f"{n} (type {cc.type})" for n, cc in sources.items()) or "none"
    if ref.source is None:
        if len(sources) == 1:
            return next(iter(sources.values()))
        raise ConfigError(
            [
                f"{config.source}: incident id {ref.id!r} names no source and {len(sources)} incident "
                f"sources are configured ({listed}); write `<source>:{ref.id}`"
            ]
        )
    if ref.source in sources:
        return sources[ref.source]
    of_type = [cc for cc in sources.values() if cc.type == ref.source]
    if len(of_type) == 1:
        return of_type[0]
    problem = (
        f"several incident sources of type {ref.source!r} are configured; name the instance"
        if of_type
        else f"no incident source named or of type {ref.source!r} is configured"
    )
    raise ConfigError([f"{config.source}: incident {ref}: {problem} (incident sources: {listed})"])


def fetch_current_incident(config: PostmortemConfig, incident_id: str) -> Incident:
    """Resolve the id to its configured source and fetch the incident as the source knows it now."""
    ref = parse_incident_ref(incident_id)
    cc = incident_source(config, ref)
    connector = cc.build()
    if not isinstance(connector, IncidentSource):
        raise TypeError(f"connector {cc.name!r} (type {cc.type}) cannot fetch incidents")
    return connector.fetch_incident(ref.id)


def is_resolved(incident: Incident) -> bool:
    """Whether the incident is over: its (normalised) status is resolved or closed."""
    return incident.status.lower() in RESOLVED_STATUSES
