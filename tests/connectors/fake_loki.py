"""Loki's `GET /loki/api/v1/query_range` answered from in-memory streams, as Loki documents it.

Log queries return `{"status": "success", "data": {"resultType": "streams", "result": [{"stream":
{labels}, "values": [["<ns>", "<line>"], ...]}], "stats": {...}}}`: the `limit` earliest lines
(direction=forward) with `start <= ts < end` across all streams, grouped by stream. An unknown query
is a 400 with Loki's plain-text parse error; a query listed in `metric_queries` answers a `matrix`;
with `tenant` set, a request without that `X-Scope-OrgID` is refused like Loki with auth_enabled.

    loki = FakeLoki({'{app="shop"}': [Stream({"service": "checkout"}, [(ns, "line"), ...])]})
    server.route("GET", QUERY_RANGE, loki)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from tests.connectors.fakeserver import Recorded, Reply

QUERY_RANGE = "/loki/api/v1/query_range"


@dataclass
class Stream:
    """One Loki stream: its label set and its entries (nanosecond timestamp, line[, metadata])."""

    labels: dict[str, str]
    entries: list[tuple] = field(default_factory=list)


def ns(ts: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime."""
    delta = ts - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _stats(lines: int, size: int) -> dict:
    """The `stats` object of a query answer (summary part, as Loki documents it)."""
    return {
        "summary": {
            "bytesProcessedPerSecond": size * 10,
            "linesProcessedPerSecond": lines * 10,
            "totalBytesProcessed": size,
            "totalLinesProcessed": lines,
            "execTime": 0.1,
            "queueTime": 0.0,
            "subqueries": 1,
            "totalEntriesReturned": lines,
        },
        "querier": {"store": {"totalChunksRef": 0, "totalChunksDownloaded": 0}},
        "ingester": {"totalReached": 1, "totalChunksMatched": 0, "totalBatches": 0, "totalLinesSent": 0},
    }


class FakeLoki:
    """A FakeServer handler implementing query_range's selection, order, limit and grouping."""

    def __init__(
        self,
        queries: dict[str, list[Stream]],
        *,
        tenant: str | None = None,
        metric_queries: tuple[str, ...] = (),
    ):
        self.queries, self.tenant, self.metric_queries = queries, tenant, metric_queries

    def __call__(self, request: Recorded) -> Reply:
        """Answer one query_range request."""
        if self.tenant is not None and request.headers.get("x-scope-orgid") != self.tenant:
            return Reply(401, body="no org id\n", headers={"Content-Type": "text/plain; charset=utf-8"})
        query = request.arg("query") or ""
        if query in self.metric_queries:
            matrix = {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "1"]]}]}
            return Reply(json={"status": "success", "data": {**matrix, "stats": _stats(0, 0)}})
        if query not in self.queries:
            return Reply(
                400,
                body=f"parse error at line 1, col 1: syntax error: unexpected IDENTIFIER in {query}\n",
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )
        if request.arg("direction") != "forward":
            return Reply(400, body="this fake serves direction=forward only\n")
        start, end = int(request.arg("start") or 0), int(request.arg("end") or 0)
        limit = int(request.arg("limit") or 100)
        picked = sorted(
            (
                (int(entry[0]), index, order, entry)
                for index, stream in enumerate(self.queries[query])
                for order, entry in enumerate(stream.entries)
                if start <= int(entry[0]) < end
            ),
            key=lambda item: item[:3],
        )[:limit]
        grouped: dict[int, list[list]] = {}
        for stamp, index, _, entry in picked:
            grouped.setdefault(index, []).append([str(stamp), *entry[1:]])
        result = [
            {"stream": self.queries[query][index].labels, "values": values}
            for index, values in sorted(grouped.items())
        ]
        size = sum(len(e[3][1]) for e in picked)
        data = {"resultType": "streams", "result": result, "stats": _stats(len(picked), size)}
        return Reply(json={"status": "success", "data": data})
