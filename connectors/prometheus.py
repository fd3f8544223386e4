"""Prometheus: configured PromQL queries read with `query_range`, chunked under 11,000 points per series.

Config (`[connectors.<name>] type = "prometheus"`), client (the shared HttpClient, POSTing form-encoded
queries) and adapter (the JSON envelope and `matrix` result -> MetricPoint). Evaluation times sit on a
grid of `step` aligned to the Unix epoch, so chunk borders never produce a point twice and the same
window always gives the same timestamps.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.base import Collected, RawPayload, Window
from connectors.config import BearerOrBasicAuthConfig, Duration
from connectors.http import HttpClient
from connectors.http_errors import HttpError, PayloadError
from connectors.registry import ConnectorType
from postmortem.model import MetricPoint

PROMETHEUS_MAX_POINTS = 11_000
"""Prometheus rejects a range query that would return more points than this per series."""

QUERY_RANGE = "/api/v1/query_range"


# ---------------------------------------------------------------- config


class PromQuery(BaseModel):
    """One configured PromQL query; each series it returns becomes one (service, metric) series."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="query name; the metric name unless `metric` is set")
    promql: str = Field(min_length=1, description="the PromQL expression")
    metric: str | None = Field(None, min_length=1, description="metric name written to the bundle")
    service_label: str | None = Field(None, description="label naming the service (default: the connector's)")
    service: str | None = Field(None, description="service for series carrying neither label")

    @property
    def metric_name(self) -> str:
        """The metric name written to the bundle."""
        return self.metric or self.name


class PrometheusConfig(BearerOrBasicAuthConfig):
    """`type = "prometheus"`: server URL, queries, resolution and optional bearer or basic auth."""

    queries: list[PromQuery] = Field(min_length=1, description="PromQL queries ([[...queries]] tables)")
    step: Duration = Field(timedelta(seconds=30), description="query resolution (e.g. 30s, 1m)")
    service_label: str = Field("service", description="label naming the service; `job` is the fallback")
    max_points: int = Field(
        10_000, ge=2, le=PROMETHEUS_MAX_POINTS, description="points per series per request (chunk size)"
    )

    @model_validator(mode="after")
    def _check(self) -> PrometheusConfig:
        step_ms = self.step / timedelta(milliseconds=1)
        if step_ms < 1 or step_ms != int(step_ms):
            raise ValueError(f"step must be a positive whole number of milliseconds, got {self.step}")
        names = Counter(q.name for q in self.queries)
        if dupes := sorted(n for n, c in names.items() if c > 1):
            raise ValueError(f"query names must be unique, repeated: {', '.join(dupes)}")
        return self


# ---------------------------------------------------------------- evaluation grid


@dataclass(frozen=True)
class Chunk:
    """One query_range request: evaluation times start_ms, start_ms + step_ms, ..., end_ms (inclusive)."""

    start_ms: int
    end_ms: int
    step_ms: int

    @property
    def points(self) -> int:
        """Points per series this request returns at most."""
        return (self.end_ms - self.start_ms) // self.step_ms + 1

    def params(self, promql: str) -> dict[str, str]:
        """The query_range parameters."""
        return {
            "query": promql,
            "start": _seconds(self.start_ms),
            "end": _seconds(self.end_ms),
            "step": _seconds(self.step_ms),
        }


def _seconds(ms: int) -> str:
    whole, frac = divmod(ms, 1000)
    return f"{whole}.{frac:03d}" if frac else str(whole)


def _epoch_ms(ts: datetime) -> int:
    delta = ts - datetime(1970, 1, 1, tzinfo=UTC)
    return delta // timedelta(milliseconds=1)


def plan_chunks(window: Window, step: timedelta, max_points: int = 10_000) -> list[Chunk]:
    """Requests covering the step grid inside [start, end) with at most max_points points each, no overlap."""
    if max_points < 1:
        raise ValueError(f"max_points must be positive, got {max_points}")
    step_ms = step // timedelta(milliseconds=1)
    if step_ms < 1:
        raise ValueError(f"step must be at least 1 ms, got {step}")
    start_ms, end_ms = _epoch_ms(window.start), _epoch_ms(window.end)
    first = -(-start_ms // step_ms) * step_ms
    last = ((end_ms - 1) // step_ms) * step_ms
    if last < first:
        return []
    span = step_ms * max_points
    return [
        Chunk(begin, min(begin + span - step_ms, last), step_ms) for begin in range(first, last + 1, span)
    ]


# ---------------------------------------------------------------- adapter


class PrometheusError(HttpError):
    """Prometheus answered with its error envelope (`status: error`, `errorType`, `error`)."""

    def __init__(
        self, message: str, *, error_type: str, method: str, url: str, status: int | None, body: str
    ):
        self.error_type = error_type
        super().__init__(message, method=method, url=url, status=status, body=body)


def envelope_data(body: Any, *, method: str, url: str, status: int | None = 200) -> tuple[Any, list[str]]:
    """The `data` of a Prometheus API envelope and its warnings; PrometheusError for `status: error`."""
    if not isinstance(body, dict) or "status" not in body:
        raise PayloadError(
            f"{method} {url}: not a Prometheus API response (no `status` field)", method=method, url=url
        )
    if body["status"] != "success":
        error_type = str(body.get("errorType") or "unknown")
        raise PrometheusError(
            f"{method} {url}: Prometheus error {error_type}: {body.get('error') or 'no message'}",
            error_type=error_type,
            method=method,
            url=url,
            status=status,
            body=str(body.get("error") or ""),
        )
    warnings = [str(w) for w in body.get("warnings") or []]
    return body.get("data"), warnings


def matrix_series(data: Any, *, method: str, url: str) -> list[dict[str, Any]]:
    """The series of a `matrix` result (PayloadError for any other result type)."""
    if (
        not isinstance(data, dict)
        or data.get("resultType") != "matrix"
        or not isinstance(data.get("result"), list)
    ):
        got = data.get("resultType") if isinstance(data, dict) else type(data).__name__
        raise PayloadError(f"{method} {url}: expected a matrix result, got {got!r}", method=method, url=url)
    return data["result"]


def series_service(labels: dict[str, str], query: PromQuery, default_label: str) -> str | None:
    """The service of a series: the configured label, then `job`, then the query's fixed service."""
    label = query.service_label or default_label
    return labels.get(label) or labels.get("job") or query.service


def series_points(values: list[list[Any]], service: str, metric: str) -> list[MetricPoint]:
    """MetricPoints of one series' `[[unix_seconds, "value"], ...]` (NaN and +/-Inf parsed as floats)."""
    if not values:
        return []
    pairs = np.asarray(values, dtype=str)
    ms = np.rint(pairs[:, 0].astype(np.float64) * 1000).astype(np.int64)
    numbers = pairs[:, 1].astype(np.float64).tolist()
    stamps = pd.to_datetime(ms, unit="ms", utc=True).to_pydatetime()
    return [
        MetricPoint(ts=ts, service=service, metric=metric, value=value)
        for ts, value in zip(stamps, numbers, strict=True)
    ]


def matrix_to_points(
    series: list[dict[str, Any]], query: PromQuery, default_label: str = "service"
) -> tuple[list[MetricPoint], list[str]]:
    """MetricPoints of a matrix result for one query, and warnings (unlabelled or colliding series)."""
    points: list[MetricPoint] = []
    warnings: list[str] = []
    seen: Counter[str] = Counter()
    for item in series:
        labels = item.get("metric") or {}
        service = series_service(labels, query, default_label)
        if service is None:
            label = query.service_label or default_label
            warnings.append(
                f"query {query.name!r}: a series with labels {labels} has neither {label!r} nor 'job' and "
                "the query sets no `service`; its points were not collected"
            )
            continue
        seen[service] += 1
        points.extend(series_points(item.get("values") or [], service, query.metric_name))
    for service, count in sorted(seen.items()):
        if count > 1:
            warnings.append(
                f"query {query.name!r}: {count} series for service {service!r} give duplicate points; "
                f"aggregate them, e.g. sum by ({query.service_label or default_label}) (...)"
            )
    return points, warnings


# ---------------------------------------------------------------- connector


class PrometheusConnector:
    """Reads the configured PromQL queries over an incident window (capability `metrics`)."""

    def __init__(self, config: PrometheusConfig, name: str, client: HttpClient | None = None):
        self.name = name
        self.config = config
        self.client = client or config.client(name, auth=config.auth())

    def __repr__(self) -> str:
        return f"PrometheusConnector(name={self.name!r}, client={self.client!r})"

    def query_range(
        self, query: PromQuery, chunk: Chunk
    ) -> tuple[list[dict[str, Any]], list[str], RawPayload]:
        """One query_range request: the matrix series, the server's warnings and the raw payload."""
        try:
            body, raw = self.client.post_json(QUERY_RANGE, data=chunk.params(query.promql))
            data, warnings = envelope_data(body, method="POST", url=raw.uri)
            return matrix_series(data, method="POST", url=raw.uri), warnings, raw
        except HttpError as exc:
            raise _with_query(_envelope_error(exc), query) from None

    def fetch_metrics(self, window: Window) -> Collected:
        """Every configured query over the window, chunked; one RawPayload per request."""
        chunks = plan_chunks(window, self.config.step, self.config.max_points)
        collected = Collected("metrics", [])
        if not chunks:
            collected.warnings.append(
                f"the window {window.start.isoformat()} .. {window.end.isoformat()} "
                f"holds no evaluation time of step {self.config.step}"
            )
        for query in self.config.queries:
            for chunk in chunks:
                series, server_warnings, raw = self.query_range(query, chunk)
                points, warnings = matrix_to_points(series, query, self.config.service_label)
                collected.records.extend(points)
                collected.raw.append(raw)
                collected.warnings.extend(f"query {query.name!r}: {w}" for w in server_warnings)
                collected.warnings.extend(w for w in warnings if w not in collected.warnings)
        return collected


# a field of Prometheus' error envelope inside an HTTP error's body excerpt (which may be truncated)
_FIELD_RE = {
    name: re.compile(rf'"{name}"\s*:\s*"((?:[^"\\]|\\.)*)') for name in ("status", "errorType", "error")
}


def _json_string(text: str) -> str:
    """A JSON string body without its quotes, unescaped (left as is when truncated mid-escape)."""
    try:
        return str(orjson.loads(f'"{text}"'))
    except orjson.JSONDecodeError:
        return text


def _envelope_error(exc: HttpError) -> HttpError:
    """A PrometheusError when a failed request's body is Prometheus' error envelope, else the error itself."""
    found = {name: rx.search(exc.body) for name, rx in _FIELD_RE.items()}
    if found["status"] is None or found["status"][1] != "error":
        return exc
    error_type = found["errorType"][1] if found["errorType"] else "unknown"
    message = _json_string(found["error"][1]) if found["error"] else exc.body
    return PrometheusError(
        f"{exc.method} {exc.url}: HTTP {exc.status}: Prometheus error {error_type}: {message}",
        error_type=error_type,
        method=exc.method,
        url=exc.url,
        status=exc.status,
        body=exc.body,
    )


def _with_query(exc: HttpError, query: PromQuery) -> HttpError:
    """The error with the query's name and expression in front of its message (same type and fields)."""
    exc.args = (f"query {query.name!r} ({query.promql}): {exc.args[0]}", *exc.args[1:])
    return exc


CONNECTOR = ConnectorType(
    type="prometheus",
    config=PrometheusConfig,
    factory=PrometheusConnector,
    capabilities=("metrics",),
    summary="PromQL range queries (query_range), chunked under Prometheus' 11,000 points per series",
)
