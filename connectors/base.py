"""The connector contract: time windows, collected payloads and the capability Protocols.

A connector is any object with a `name` (its `[connectors.<name>]` table) and one or more
capability methods. Capabilities are checked structurally (`typing.Protocol`), never by
inheritance. Every window capability is named after the bundle dataset it fills.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from postmortem.model import Incident


@dataclass(frozen=True)
class Window:
    """A half-open time range [start, end) in aware UTC; the evidence window of an incident."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.utcoffset() is None:
                raise ValueError(f"Window.{name} must be a timezone-aware datetime, got {value!r}")
            object.__setattr__(self, name, value.astimezone(UTC))
        if self.end <= self.start:
            raise ValueError(f"Window end {self.end.isoformat()} is not after start {self.start.isoformat()}")

    @property
    def duration(self) -> timedelta:
        """Length of the window."""
        return self.end - self.start

    def chunks(self, size: timedelta) -> Iterator[Window]:
        """Consecutive sub-windows of at most `size` covering the window (for APIs with point limits)."""
        if size <= timedelta(0):
            raise ValueError(f"chunk size must be positive, got {size}")
        start = self.start
        while start < self.end:
            end = min(start + size, self.end)
            yield Window(start, end)
            start = end


@dataclass
class RawPayload:
    """One payload exactly as received, with where it came from (`uri` is already redacted)."""

    source: str
    uri: str
    content: bytes
    content_type: str = "application/json"


@dataclass
class Collected:
    """What one capability of one connector returned: domain records of one dataset plus raw payloads."""

    dataset: str
    records: list[BaseModel]
    raw: list[RawPayload] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@runtime_checkable
class MetricSource(Protocol):
    """Reads metric series (dataset `metrics`, records `MetricPoint`)."""

    name: str

    def fetch_metrics(self, window: Window) -> Collected:
        """Metric points inside the window."""
        ...


@runtime_checkable
class LogSource(Protocol):
    """Reads log lines (dataset `logs`, records `LogRecord`)."""

    name: str

    def fetch_logs(self, window: Window) -> Collected:
        """Log records inside the window."""
        ...


@runtime_checkable
class AlertSource(Protocol):
    """Reads alerts (dataset `alerts`, records `Alert`)."""

    name: str

    def fetch_alerts(self, window: Window) -> Collected:
        """Alerts active at any time inside the window."""
        ...


@runtime_checkable
class ChangeSource(Protocol):
    """Reads VCS commits (dataset `commits`, records `Commit`)."""

    name: str

    def fetch_commits(self, window: Window) -> Collected:
        """Commits made inside the window."""
        ...


@runtime_checkable
class DeploySource(Protocol):
    """Reads deploys, rollbacks and other changes (dataset `deploys`, records `Change`)."""

    name: str

    def fetch_deploys(self, window: Window) -> Collected:
        """Changes that took effect inside the window."""
        ...


@runtime_checkable
class ChatSource(Protocol):
    """Reads the incident channel (dataset `chat`, records `ChatMessage`)."""

    name: str

    def fetch_chat(self, window: Window) -> Collected:
        """Chat messages inside the window."""
        ...


@runtime_checkable
class TicketTracker(Protocol):
    """Reads the tickets linked to an incident (dataset `tickets`, records `Ticket`)."""

    name: str

    def fetch_tickets(self, window: Window) -> Collected:
        """Tickets created or updated inside the window."""
        ...


@runtime_checkable
class IncidentSource(Protocol):
    """Resolves an incident id to the incident record.

    The record's extra field `source` is set to the connector's `name`, so the evidence of that
    incident can be read back from the same instance (see IncidentEvidenceSource).
    """

    name: str

    def fetch_incident(self, incident_id: str) -> Incident:
        """The incident with that id, as the source knows it now (raises when it does not exist)."""
        ...


@runtime_checkable
class IncidentEvidenceSource(Protocol):
    """Reads what the incident tool recorded about one incident: its log, notes, updates, follow-ups."""

    name: str

    def fetch_incident_evidence(self, incident_id: str) -> list[Collected]:
        """One Collected per dataset of EVIDENCE_DATASETS (e.g. `chat` and `actions`), raw payloads kept."""
        ...


CAPABILITIES: dict[str, type] = {
    "metrics": MetricSource,
    "logs": LogSource,
    "alerts": AlertSource,
    "commits": ChangeSource,
    "deploys": DeploySource,
    "chat": ChatSource,
    "tickets": TicketTracker,
    "incident": IncidentSource,
    "incident_evidence": IncidentEvidenceSource,
}

# window capabilities: capability (== bundle dataset) -> method taking a Window and returning Collected
WINDOW_METHODS: dict[str, str] = {
    "metrics": "fetch_metrics",
    "logs": "fetch_logs",
    "alerts": "fetch_alerts",
    "commits": "fetch_commits",
    "deploys": "fetch_deploys",
    "chat": "fetch_chat",
    "tickets": "fetch_tickets",
}

# datasets an incident's own evidence may fill: the window datasets plus `actions` (proposed remediation)
EVIDENCE_DATASETS: tuple[str, ...] = (*WINDOW_METHODS, "actions")


def capabilities_of(connector: object) -> list[str]:
    """The capabilities a connector object implements, in CAPABILITIES order."""
    return [name for name, proto in CAPABILITIES.items() if isinstance(connector, proto)]


def fetch(connector: object, capability: str, window: Window) -> Collected:
    """Call one window capability of a connector and check it returned its own dataset."""
    method = WINDOW_METHODS.get(capability)
    if method is None:
        raise ValueError(f"{capability!r} is not a window capability (known: {', '.join(WINDOW_METHODS)})")
    collected = getattr(connector, method)(window)
    if not isinstance(collected, Collected) or collected.dataset != capability:
        got = getattr(collected, "dataset", type(collected).__name__)
        raise TypeError(f"{method} must return Collected(dataset={capability!r}), got {got!r}")
    return collected


def fetch_evidence(connector: object, incident_id: str) -> list[Collected]:
    """Call `fetch_incident_evidence` and check it returned known datasets, each at most once."""
    if not isinstance(connector, IncidentEvidenceSource):
        raise TypeError(f"{type(connector).__name__} has no capability 'incident_evidence'")
    parts = connector.fetch_incident_evidence(incident_id)
    seen: set[str] = set()
    for part in parts:
        dataset = getattr(part, "dataset", type(part).__name__)
        if not isinstance(part, Collected) or dataset not in EVIDENCE_DATASETS or dataset in seen:
            raise TypeError(
                f"fetch_incident_evidence must return one Collected per dataset of "
                f"{', '.join(EVIDENCE_DATASETS)}; got {dataset!r}" + (" twice" if dataset in seen else "")
            )
        seen.add(dataset)
    return parts
