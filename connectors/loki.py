"""Loki: configured LogQL queries read with `query_range`, paged forward through time past the line limit.

Config (`[connectors.<name>] type = "loki"`), client (the shared HttpClient, GET with nanosecond
`start`/`end` and `direction=forward`) and adapter (the `streams` result -> LogRecord). A page holds at
most `limit` lines, the earliest of the window across all streams; when a page is full the next one
starts at its last timestamp (inclusive, since several lines may share one nanosecond) and the lines
of that nanosecond already received are dropped, as `logcli --batch` does.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.base import Collected, RawPayload, Window
from connectors.config import BearerOrBasicAuthConfig
from connectors.http import HttpClient
from connectors.http_errors import HttpError, PayloadError
from connectors.registry import ConnectorType
from postmortem.model import LOG_LEVELS, LogRecord

QUERY_RANGE = "/loki/api/v1/query_range"
TENANT_HEADER = "X-Scope-OrgID"
SERVICE_FALLBACKS = ("job", "app")
LEVEL_FALLBACKS = ("detected_level",)
"""Loki 3 adds `detected_level` to streams when level discovery is on."""

# level spellings normalised to the bundle's LOG_LEVELS; Loki's detected_level "unknown" means none
LEVEL_ALIASES = {
    "err": "error",
    "eror": "error",
    "crit": "critical",
    "panic": "fatal",
    "emerg": "fatal",
    "alert": "critical",
    "warning": "warn",
    "wrn": "warn",
    "dbg": "debug",
    "inf": "info",
    "information": "info",
    "informational": "info",
    "trc": "trace",
    "unknown": None,
}
_LEVEL_WORDS = "|".join(sorted({*LOG_LEVELS, *LEVEL_ALIASES} - {"unknown"}, key=lambda w: (-len(w), w)))
# `level=error`, `"level":"error"`, `lvl: warn`, `severity=INFO` anywhere in the line
_KEY_VALUE_LEVEL = rf"""(?i)\b(?:level|lvl|loglevel|severity)["']?\s*[=:]\s*["']?({_LEVEL_WORDS})\b"""
# otherwise an upper-case level word (`2024-03-01 10:00:00 ERROR payment declined`, `[WARN]`)
_BARE_LEVEL = r"\b(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRITICAL|CRIT|FATAL|PANIC)\b"


# ---------------------------------------------------------------- config


class LogQuery(BaseModel):
    """One configured LogQL log query (a stream selector and optional filters, not a metric query)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="query name (shown in warnings, errors and the manifest)")
    logql: str = Field(min_length=1, description='the LogQL log query, e.g. {namespace="prod"} |= "error"')
    service_label: str | None = Field(None, description="label naming the service (default: the connector's)")
    service: str | None = Field(None, description="service for streams carrying none of the labels")


class LokiConfig(BearerOrBasicAuthConfig):
    """`type = "loki"`: server URL, queries, page size, labels, tenant and optional bearer or basic auth."""

    queries: list[LogQuery] = Field(min_length=1, description="LogQL queries ([[...queries]] tables)")
    limit: int = Field(
        5000, ge=1, description="lines per request (at most the server's max_entries_limit_per_query)"
    )
    service_label: str = Field("service", description="label naming the service; `job`, then `app` follow")
    level_label: str = Field("level", description="label holding the level; `detected_level` follows")
    detect_level: bool = Field(True, description="find the level in the line when no label gives it")
    tenant: str | None = Field(None, min_length=1, description="tenant sent as the X-Scope-OrgID header")

    @model_validator(mode="after")
    def _check(self) -> LokiConfig:
        names = Counter(q.name for q in self.queries)
        if dupes := sorted(n for n, c in names.items() if c > 1):
            raise ValueError(f"query names must be unique, repeated: {', '.join(dupes)}")
        if any(k.lower() == TENANT_HEADER.lower() for k in self.headers):
            raise ValueError(f"set the tenant with `tenant`, not as a {TENANT_HEADER} header")
        return self

    def request_headers(self) -> dict[str, str]:
        """The configured headers plus the tenant header."""
        return {**self.headers, TENANT_HEADER: self.tenant} if self.tenant else dict(self.headers)


# ---------------------------------------------------------------- adapter


class LokiError(HttpError):
    """Loki answered with an error status in its envelope, or its lines cannot be paged through."""


def epoch_ns(ts: datetime) -> int:
    """Nanoseconds since the Unix epoch of an aware datetime (exact, no float rounding)."""
    return (ts - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


def stream_result(body: Any, *, url: str) -> list[dict[str, Any]]:
    """The streams of a query_range answer; LokiError for `status` other than success, PayloadError else."""
    if not isinstance(body, dict) or "status" not in body:
        raise PayloadError(f"GET {url}: not a Loki API response (no `status` field)", method="GET", url=url)
    if body["status"] != "success":
        message = body.get("error") or body.get("message") or "no message"
        raise LokiError(
            f"GET {url}: Loki error {body.get('errorType') or body['status']}: {message}",
            method="GET",
            url=url,
            body=str(message),
        )
    data = body.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "streams":
        got = data.get("resultType") if isinstance(data, dict) else type(data).__name__
        raise PayloadError(
            f"GET {url}: expected a streams result, got {got!r} (a metric query such as rate() or "
            "count_over_time() is not a log query)",
            method="GET",
            url=url,
        )
    result = data.get("result")
    if not isinstance(result, list) or not all(
        isinstance(s, dict) and isinstance(s.get("values", []), list) for s in result
    ):
        raise PayloadError(f"GET {url}: `data.result` is not a list of streams", method="GET", url=url)
    return result


def page_frame(streams: list[dict[str, Any]], *, url: str) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """One row per line (`ns`, `line`, `stream`, `meta`) in time order, and each stream's label set."""
    labels = [{str(k): str(v) for k, v in (s.get("stream") or {}).items()} for s in streams]
    parts = [
        pd.DataFrame(s["values"], dtype=object).assign(stream=i) for i, s in enumerate(streams) if s["values"]
    ]
    if not parts:
        return pd.DataFrame({"ns": pd.Series(dtype="int64"), "line": [], "stream": [], "meta": []}), labels
    frame = pd.concat(parts, ignore_index=True)
    if frame.columns[0] != 0 or 1 not in frame.columns:
        raise PayloadError(f"GET {url}: stream values must be [timestamp, line] pairs", method="GET", url=url)
    try:
        ns = frame[0].astype(str).astype(np.int64)
    except (ValueError, OverflowError):
        raise PayloadError(
            f"GET {url}: a stream value's timestamp is not a nanosecond epoch string", method="GET", url=url
        ) from None
    meta = frame[2] if 2 in frame.columns else pd.Series(None, index=frame.index, dtype=object)
    out = pd.DataFrame({"ns": ns, "line": frame[1].astype(str), "stream": frame["stream"], "meta": meta})
    return out.sort_values("ns", kind="stable", ignore_index=True), labels


def _stream_keys(labels: list[dict[str, str]]) -> np.ndarray:
    return np.array([json.dumps(sorted(lb.items())) for lb in labels] or [""], dtype=object)


class ForwardPager:
    """Forward paging state of one query: where the next page starts and the lines already seen there."""

    def __init__(self, start_ns: int, limit: int):
        self.start_ns, self.limit = start_ns, limit
        self.seen: set[tuple[str, str]] = set()
        self.next: str | None = None

    def fresh(self, frame: pd.DataFrame, labels: list[dict[str, str]], uri: str) -> pd.DataFrame:
        """The page's lines not received on the previous page; decides where the next page starts."""
        keys = _stream_keys(labels)[frame["stream"].to_numpy(dtype=np.int64)]
        at_start = frame["ns"].to_numpy() == self.start_ns
        if self.seen and at_start.any():
            pairs = list(zip(keys[at_start], frame["line"].to_numpy()[at_start], strict=True))
            repeat = np.zeros(len(frame), dtype=bool)
            repeat[at_start] = [pair in self.seen for pair in pairs]
            kept = frame[~repeat]
        else:
            kept = frame
        self.next = None
        if len(frame) >= self.limit:
            last = int(frame["ns"].max())
            if last == self.start_ns:
                raise LokiError(
                    f"GET {uri}: all {len(frame)} lines of a full page have the timestamp {last} ns, so "
                    "paging forward cannot get past it; raise `limit` above the lines sharing one timestamp",
                    method="GET",
                    url=uri,
                )
            at_last = frame["ns"].to_numpy() == last
            self.seen = set(zip(keys[at_last], frame["line"].to_numpy()[at_last], strict=True))
            self.start_ns, self.next = last, str(last)
        return kept

    def next_start(self, body: Any) -> str | None:
        """The `start` of the next page (None when the last page was not full): the paginator's cursor."""
        return self.next


def normalise_levels(values: pd.Series) -> pd.Series:
    """Lower-cased levels with aliases folded (`ERR` -> `error`, `WARNING` -> `warn`, `unknown` -> None)."""
    lowered = values.str.lower()
    mapped = lowered.map(LEVEL_ALIASES)
    return lowered.where(~lowered.isin(list(LEVEL_ALIASES)), mapped)


def detect_levels(lines: pd.Series) -> pd.Series:
    """Level found in each line (`level=...` style first, then an upper-case level word), else None."""
    if lines.empty:
        return pd.Series(None, index=lines.index, dtype=object)
    keyed = lines.str.extract(_KEY_VALUE_LEVEL, expand=False)
    bare = lines.str.extract(_BARE_LEVEL, expand=False)
    return normalise_levels(keyed.fillna(bare)).astype(object).where(lambda s: s.notna(), None)


def _attrs(labels: dict[str, str], meta: Any) -> dict[str, Any]:
    """A new dict: stream labels plus the structured metadata and parsed labels of a categorised entry."""
    if not isinstance(meta, dict):
        return dict(labels)
    merged = dict(labels)
    for part in ("structured_metadata", "parsed"):
        if isinstance(meta.get(part), dict):
            merged.update(meta[part])
    if not {"structured_metadata", "parsed"} & meta.keys():
        merged.update(meta)
    return merged


def frame_to_records(
    frame: pd.DataFrame,
    labels: list[dict[str, str]],
    query: LogQuery,
    config: LokiConfig,
) -> tuple[list[LogRecord], list[dict[str, str]]]:
    """LogRecords of a page's lines, and the label sets of its streams that name no service."""
    service_labels = service_labels_of(query, config)
    services = [next((lb[k] for k in service_labels if lb.get(k)), query.service) for lb in labels]
    stream_levels = [
        next((lb[k] for k in (config.level_label, *LEVEL_FALLBACKS) if lb.get(k)), None) for lb in labels
    ]
    unnamed = [labels[i] for i, s in enumerate(services) if s is None]
    if frame.empty:
        return [], unnamed
    stream = frame["stream"].to_numpy(dtype=np.int64)
    level = normalise_levels(pd.Series(stream_levels, dtype=object)[stream].reset_index(drop=True))
    level.index = frame.index
    if config.detect_level:
        missing = level.isna()
        level[missing] = detect_levels(frame["line"][missing])
    stamps = pd.to_datetime(frame["ns"].to_numpy() // 1000, unit="us", utc=True).to_pydatetime()
    service_of = np.array(services, dtype=object)[stream]
    records = [
        LogRecord(ts=ts, service=svc, level=lvl, message=line, attrs=_attrs(labels[i], meta))
        for ts, svc, lvl, line, i, meta in zip(
            stamps,
            service_of,
            level.astype(object).where(level.notna(), None),
            frame["line"],
            stream,
            frame["meta"],
            strict=True,
        )
    ]
    return records, unnamed


def service_labels_of(query: LogQuery, config: LokiConfig) -> tuple[str, ...]:
    """The labels naming a stream's service, in order: the query's or connector's label, `job`, `app`."""
    return (query.service_label or config.service_label, *SERVICE_FALLBACKS)


# ---------------------------------------------------------------- connector


class LokiConnector:
    """Reads the configured LogQL queries over an incident window (capability `logs`)."""

    def __init__(self, config: LokiConfig, name: str, client: HttpClient | None = None):
        self.name = name
        self.config = config
        self.client = client or config.client(name, auth=config.auth(), headers=config.request_headers())

    def __repr__(self) -> str:
        return f"LokiConnector(name={self.name!r}, client={self.client!r})"

    def query_range(
        self, query: LogQuery, window: Window
    ) -> tuple[list[LogRecord], list[str], list[RawPayload]]:
        """Every line of one query in the window, oldest first: records, warnings and one payload per page."""
        start, end = epoch_ns(window.start), epoch_ns(window.end)
        params = {
            "query": query.logql,
            "start": str(start),
            "end": str(end),
            "limit": str(self.config.limit),
            "direction": "forward",
        }
        pager = ForwardPager(start, self.config.limit)
        records: list[LogRecord] = []
        unnamed: dict[str, dict[str, str]] = {}
        raws: list[RawPayload] = []
        try:
            for body, raw in self.client.paginate_cursor(QUERY_RANGE, params, "start", pager.next_start):
                raws.append(raw)
                frame, labels = page_frame(stream_result(body, url=raw.uri), url=raw.uri)
                page, nameless = frame_to_records(
                    pager.fresh(frame, labels, raw.uri), labels, query, self.config
                )
                records.extend(page)
                unnamed.update((json.dumps(sorted(lb.items())), lb) for lb in nameless)
        except HttpError as exc:
            raise _with_query(exc, query) from None
        warnings = []
        if unnamed:
            names = ", ".join(repr(k) for k in service_labels_of(query, self.config))
            warnings.append(
                f"query {query.name!r}: {len(unnamed)} stream(s) have none of the labels {names} and the "
                f"query sets no `service`, e.g. {next(iter(unnamed.values()))}; their lines have no service"
            )
        return records, warnings, raws

    def fetch_logs(self, window: Window) -> Collected:
        """Every configured query over the window, paged forward; one RawPayload per request."""
        collected = Collected("logs", [])
        for query in self.config.queries:
            records, warnings, raws = self.query_range(query, window)
            collected.records.extend(records)
            collected.raw.extend(raws)
            collected.warnings.extend(warnings)
        return collected


def _with_query(exc: HttpError, query: LogQuery) -> HttpError:
    """The error with the query's name and expression in front of its message (same type and fields)."""
    prefix = f"query {query.name!r} ({query.logql}): "
    if not str(exc.args[0]).startswith(prefix):
        exc.args = (prefix + str(exc.args[0]), *exc.args[1:])
    return exc


CONNECTOR = ConnectorType(
    type="loki",
    config=LokiConfig,
    factory=LokiConnector,
    capabilities=("logs",),
    summary="LogQL log queries (query_range), paged forward through time past the line limit",
)
