"""Alertmanager: alerts from the v2 API (`GET /api/v2/alerts`) and from webhook payloads (version 4).

The v2 API returns the alerts Alertmanager holds that have not resolved yet (active, silenced,
inhibited, unprocessed); resolved alerts reach us only through the webhook. An alert's id is its
fingerprint, its time its `startsAt`; `ends_at` is set only once it resolved.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, Field, TypeAdapter, ValidationError

from connectors.base import Collected, Window
from connectors.config import BearerOrBasicAuthConfig
from connectors.http import HttpClient
from connectors.http_errors import PayloadError
from connectors.registry import ConnectorType
from postmortem.model import Alert

ALERTS = "/api/v2/alerts"
WEBHOOK_VERSION = "4"
_TIMESTAMP = TypeAdapter(AwareDatetime)
_FNV_OFFSET, _FNV_PRIME, _MASK = 0xCBF29CE484222325, 0x100000001B3, 0xFFFFFFFFFFFFFFFF


# ---------------------------------------------------------------- config


class AlertmanagerConfig(BearerOrBasicAuthConfig):
    """`type = "alertmanager"`: server URL, label mapping, filters and optional bearer or basic auth."""

    service_label: str = Field("service", description="label naming the service; `job` is the fallback")
    severity_label: str = Field("severity", description="label holding the severity")
    filter: list[str] = Field(default_factory=list, description='label matchers, e.g. env="prod"')
    receiver: str | None = Field(None, description="only alerts routed to receivers matching this regex")
    silenced: bool = Field(True, description="include silenced alerts")
    inhibited: bool = Field(True, description="include inhibited alerts")
    unprocessed: bool = Field(True, description="include alerts not yet processed by the routing tree")

    def params(self) -> dict[str, Any]:
        """Query parameters of GET /api/v2/alerts."""
        params: dict[str, Any] = {
            "active": "true",
            "silenced": str(self.silenced).lower(),
            "inhibited": str(self.inhibited).lower(),
            "unprocessed": str(self.unprocessed).lower(),
        }
        if self.filter:
            params["filter"] = list(self.filter)
        if self.receiver:
            params["receiver"] = self.receiver
        return params


# ---------------------------------------------------------------- adapter


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint of a label set: FNV-1a 64 over the sorted pairs, as 16 hex digits."""
    digest = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, str(labels[name])):
            for byte in part.encode() + b"\xff":
                digest = ((digest ^ byte) * _FNV_PRIME) & _MASK
    return f"{digest:016x}"


def parse_time(value: Any, where: str) -> datetime | None:
    """An RFC 3339 timestamp as aware UTC; None for absent or Go's zero time (0001-01-01T00:00:00Z)."""
    if value in (None, ""):
        return None
    try:
        ts = _TIMESTAMP.validate_python(value)
    except ValidationError:
        raise ValueError(f"{where}: {value!r} is not an RFC 3339 timestamp with an offset") from None
    return None if ts.year == 1 else ts.astimezone(UTC)


def to_alert(
    item: dict[str, Any],
    *,
    status: str,
    where: str,
    service_label: str = "service",
    severity_label: str = "severity",
    **extra: Any,
) -> Alert:
    """An Alert from one Alertmanager alert (v2 API or webhook shape) whose status is already decided."""
    labels = {str(k): str(v) for k, v in (item.get("labels") or {}).items()}
    annotations = {str(k): str(v) for k, v in (item.get("annotations") or {}).items()}
    starts = parse_time(item.get("startsAt"), f"{where} startsAt")
    if starts is None:
        raise ValueError(f"{where}: startsAt is missing")
    ends = parse_time(item.get("endsAt"), f"{where} endsAt") if status == "resolved" else None
    return Alert(
        id=str(item.get("fingerprint") or fingerprint(labels)),
        ts=starts,
        ends_at=ends,
        name=labels.get("alertname"),
        service=labels.get(service_label) or labels.get("job"),
        severity=labels.get(severity_label),
        status=status,
        labels={**annotations, **labels},
        url=item.get("generatorURL") or None,
        **extra,
    )


def api_alert(
    item: dict[str, Any],
    now: datetime,
    where: str,
    service_label: str = "service",
    severity_label: str = "severity",
) -> Alert:
    """An Alert from one v2 API `gettableAlert`: firing (still open) unless its endsAt has passed."""
    ends = parse_time(item.get("endsAt"), f"{where} endsAt")
    state = item.get("status") or {}
    return to_alert(
        item,
        status="resolved" if ends is not None and ends <= now else "firing",
        where=where,
        service_label=service_label,
        severity_label=severity_label,
        state=state.get("state"),
        silenced_by=list(state.get("silencedBy") or []),
        inhibited_by=list(state.get("inhibitedBy") or []),
        receivers=[r.get("name") for r in item.get("receivers") or [] if isinstance(r, dict)],
    )


def parse_webhook(
    payload: dict[str, Any], *, service_label: str = "service", severity_label: str = "severity"
) -> list[Alert]:
    """Alerts of an Alertmanager webhook payload (version 4); a firing alert stays open (ends_at None)."""
    if not isinstance(payload, dict):
        raise ValueError(f"Alertmanager webhook: expected a JSON object, got {type(payload).__name__}")
    version = payload.get("version")
    if version is not None and str(version) != WEBHOOK_VERSION:
        raise ValueError(
            f"Alertmanager webhook: version {version!r} is not supported (expected {WEBHOOK_VERSION})"
        )
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise ValueError("Alertmanager webhook: `alerts` is missing or not a list")
    group_status = payload.get("status")
    extra = {"receivers": [payload["receiver"]]} if payload.get("receiver") else {}
    out = []
    for i, item in enumerate(alerts):
        where = f"Alertmanager webhook alerts[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected an object, got {type(item).__name__}")
        status = item.get("status") or group_status
        if status not in ("firing", "resolved"):
            raise ValueError(f"{where}: status {status!r} is neither 'firing' nor 'resolved'")
        out.append(
            to_alert(
                item,
                status=status,
                where=where,
                service_label=service_label,
                severity_label=severity_label,
                **extra,
            )
        )
    return out


def active_in(alert: Alert, window: Window) -> bool:
    """Whether the alert was firing at some time inside the window."""
    return alert.ts < window.end and (alert.ends_at is None or alert.ends_at >= window.start)


# ---------------------------------------------------------------- connector


class AlertmanagerConnector:
    """Reads the alerts Alertmanager holds (capability `alerts`) and parses its webhook payloads."""

    def __init__(
        self,
        config: AlertmanagerConfig,
        name: str,
        client: HttpClient | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.name = name
        self.config = config
        self.client = client or config.client(name, auth=config.auth())
        self.clock = clock

    def __repr__(self) -> str:
        return f"AlertmanagerConnector(name={self.name!r}, client={self.client!r})"

    def fetch_alerts(self, window: Window) -> Collected:
        """The alerts active at some time inside the window (one request; the v2 API does not paginate)."""
        body, raw = self.client.get_json(ALERTS, self.config.params())
        if not isinstance(body, list):
            raise PayloadError(
                f"GET {raw.uri}: expected a JSON list of alerts, got {type(body).__name__}",
                method="GET",
                url=raw.uri,
            )
        now = self.clock()
        alerts = []
        for i, item in enumerate(body):
            where = f"GET {raw.uri} [{i}]"
            if not isinstance(item, dict):
                raise PayloadError(f"{where}: expected an alert object", method="GET", url=raw.uri)
            try:
                alert = api_alert(item, now, where, self.config.service_label, self.config.severity_label)
            except (ValueError, ValidationError) as exc:
                raise PayloadError(str(exc), method="GET", url=raw.uri) from None
            if active_in(alert, window):
                alerts.append(alert)
        return Collected("alerts", alerts, [raw])

    def parse_webhook(self, payload: dict[str, Any]) -> list[Alert]:
        """Alerts of a webhook payload, with this connector's service and severity labels."""
        return parse_webhook(
            payload, service_label=self.config.service_label, severity_label=self.config.severity_label
        )


CONNECTOR = ConnectorType(
    type="alertmanager",
    config=AlertmanagerConfig,
    factory=AlertmanagerConnector,
    capabilities=("alerts",),
    summary="alerts from the Alertmanager v2 API; webhook payloads (version 4) parsed with parse_webhook",
)
