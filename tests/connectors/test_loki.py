"""Loki connector: forward paging past the line limit, labels and levels, config, conformance, faults."""

from __future__ import annotations

import re
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pandas as pd
import pytest
from pydantic import SecretStr

from connectors.base import Window
from connectors.config import ConfigError, connector_config
from connectors.http_errors import HttpError, PayloadError
from connectors.loki import (
    CONNECTOR,
    LokiConfig,
    LokiConnector,
    LokiError,
    detect_levels,
    epoch_ns,
)
from postmortem.model import LogRecord
from tests.connectors.conformance import CHECKS, SECRET_ENV, ConnectorCase, check_config
from tests.connectors.fake_loki import QUERY_RANGE, FakeLoki, Stream, ns
from tests.connectors.fakeserver import FakeServer, Recorded, Reply

DOCS = Path(__file__).resolve().parents[2] / "docs" / "connectors" / "loki.md"
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(minutes=10))
SELECTOR = '{namespace="prod"}'
MS = 1_000_000  # nanoseconds


def _line_streams() -> list[Stream]:
    """Three streams whose lines collide on nanosecond timestamps, including identical lines."""
    t = ns(T0)
    checkout = [(t + k * 1000 * MS, f"GET /cart {k} 200") for k in range(12)]
    checkout += [(t + 3000 * MS, "dup"), (t + 3000 * MS, "retrying payment")]
    payments = [(t + k * 1500 * MS, f'level=error msg="declined {k}"') for k in range(8)]
    payments += [(t + 3000 * MS, "dup")]  # same nanosecond and text as a checkout line, other stream
    search = [(t + 5000 * MS + k, f"INFO hit {k}") for k in range(3)]  # nanosecond steps
    search += [(t + 599_999 * MS, "last line before the end"), (t + 600_000 * MS, "at the end: excluded")]
    return [
        Stream({"service": "checkout", "namespace": "prod", "level": "info"}, checkout),
        Stream({"job": "prod/payments", "namespace": "prod"}, payments),
        Stream({"app": "search", "namespace": "prod"}, search),
    ]


def _expected(streams: list[Stream], window: Window) -> list[tuple[int, str]]:
    """(timestamp, line) of the lines in the window; timestamps cut to microseconds like LogRecord.ts."""
    start, end = epoch_ns(window.start), epoch_ns(window.end)
    return sorted((e[0] // 1000 * 1000, e[1]) for s in streams for e in s.entries if start <= e[0] < end)


def _got(records: list[LogRecord]) -> list[tuple[int, str]]:
    return sorted((epoch_ns(r.ts), r.message) for r in records)


def _connector(url: str, **fields: object) -> LokiConnector:
    queries = fields.pop("queries", [{"name": "prod", "logql": SELECTOR}])
    config = LokiConfig.model_validate({"url": url, "queries": queries, "backoff": 0, **fields})
    return LokiConnector(config, "loki")


@pytest.fixture
def loki() -> FakeServer:
    """A fake Loki serving the colliding streams for SELECTOR."""
    with FakeServer() as server:
        server.route("GET", QUERY_RANGE, FakeLoki({SELECTOR: _line_streams()}))
        yield server


# ---------------------------------------------------------------- paging


@pytest.mark.parametrize("limit", [6, 7, 10, 100])
def test_pages_forward_past_the_limit_without_losing_or_repeating_lines(loki: FakeServer, limit: int) -> None:
    collected = _connector(loki.url, limit=limit).fetch_logs(WINDOW)
    streams = _line_streams()
    expected = _expected(streams, WINDOW)
    assert len(expected) == 27
    # lines share nanoseconds (identical text in two streams too): compare with multiplicity
    assert sorted(_got(collected.records)) == expected
    requests = loki.requests_to(QUERY_RANGE)
    assert len(requests) == len(collected.raw) > (1 if limit < len(expected) else 0)
    assert all(r.arg("direction") == "forward" and r.arg("limit") == str(limit) for r in requests)
    assert requests[0].arg("start") == str(epoch_ns(WINDOW.start))
    assert all(r.arg("end") == str(epoch_ns(WINDOW.end)) for r in requests)
    starts = [int(r.arg("start")) for r in requests]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)  # forward, never the same page twice
    if limit >= len(expected):
        assert len(requests) == 1


def test_each_next_page_starts_at_the_previous_pages_last_timestamp(loki: FakeServer) -> None:
    collected = _connector(loki.url, limit=6).fetch_logs(WINDOW)
    requests = loki.requests_to(QUERY_RANGE)
    for raw, following in zip(collected.raw, requests[1:], strict=False):
        body = orjson.loads(raw.content)
        last = max(int(v[0]) for s in body["data"]["result"] for v in s["values"])
        assert int(following.arg("start")) == last
    last_page = orjson.loads(collected.raw[-1].content)
    assert sum(len(s["values"]) for s in last_page["data"]["result"]) < 6  # a short page ends paging


def test_records_are_in_time_order_with_nanoseconds_rounded_down_to_microseconds(loki: FakeServer) -> None:
    records = _connector(loki.url, limit=6).fetch_logs(WINDOW).records
    stamps = [r.ts for r in records]
    assert stamps == sorted(stamps)
    search = [r for r in records if r.message.startswith("INFO hit")]
    assert {r.ts for r in search} == {T0 + timedelta(seconds=5)}  # +0, +1, +2 ns
    assert all(r.ts.utcoffset() == timedelta(0) for r in records)


def test_more_lines_on_one_nanosecond_than_the_limit_is_a_clear_error() -> None:
    t = ns(T0 + timedelta(minutes=1))
    crowd = Stream({"service": "api"}, [(t, f"line {k}") for k in range(5)] + [(t + 1, "after")])
    with FakeServer() as server:
        server.route("GET", QUERY_RANGE, FakeLoki({SELECTOR: [crowd]}))
        with pytest.raises(
            LokiError, match=r"query 'prod' .*all 3 lines of a full page have the timestamp"
        ) as info:
            _connector(server.url, limit=3).fetch_logs(WINDOW)
        assert "raise `limit`" in str(info.value)
        assert len(_connector(server.url, limit=6).fetch_logs(WINDOW).records) == 6


def test_the_page_cap_stops_an_endless_window_with_an_error() -> None:
    t = ns(T0)
    many = Stream({"service": "api"}, [(t + k * MS, f"l{k}") for k in range(50)])
    with FakeServer() as server:
        server.route("GET", QUERY_RANGE, FakeLoki({SELECTOR: [many]}))
        with pytest.raises(HttpError, match=r"stopped after max_pages=3 pages"):
            _connector(server.url, limit=5, max_pages=3).fetch_logs(WINDOW)
        assert len(server.requests) == 3


def test_a_429_in_the_middle_of_paging_is_waited_out_and_paging_resumes(loki: FakeServer) -> None:
    fake = FakeLoki({SELECTOR: _line_streams()})
    served = {"n": 0}

    def second_page_rate_limited(request: Recorded) -> Reply:
        served["n"] += 1
        if served["n"] == 2:
            return Reply(429, headers={"Retry-After": "1"}, body="Too Many Requests\n")
        return fake(request)

    loki.route("GET", QUERY_RANGE, second_page_rate_limited)
    began = time.monotonic()
    collected = _connector(loki.url, limit=6).fetch_logs(WINDOW)
    assert time.monotonic() - began >= 0.9
    assert sorted(_got(collected.records)) == _expected(_line_streams(), WINDOW)
    requests = loki.requests_to(QUERY_RANGE)
    assert requests[1].arg("start") == requests[2].arg("start")  # the same page asked again


def test_a_500_then_success_and_malformed_json_name_the_url(loki: FakeServer) -> None:
    loki.inject("GET", QUERY_RANGE, Reply(500, body="internal error"))
    assert len(_connector(loki.url).fetch_logs(WINDOW).records) == 27
    loki.inject("GET", QUERY_RANGE, Reply(200, body='{"status":"success","data":{"resultType":"str'))
    with pytest.raises(
        PayloadError,
        match=r"query 'prod' .*GET http://127\.0\.0\.1:\d+/loki/api/v1/query_range\?query=.*not valid JSON",
    ):
        _connector(loki.url).fetch_logs(WINDOW)


def test_lokis_parse_error_and_a_metric_query_are_reported_with_the_query() -> None:
    with FakeServer() as server:
        server.route("GET", QUERY_RANGE, FakeLoki({}, metric_queries=('rate({app="x"}[5m])',)))
        with pytest.raises(HttpError, match=r"query 'bad' \(\{app=\): .*HTTP 400.*parse error") as info:
            _connector(server.url, queries=[{"name": "bad", "logql": "{app="}]).fetch_logs(WINDOW)
        assert info.value.status == 400 and len(server.requests) == 1  # not retried
        with pytest.raises(PayloadError, match="expected a streams result, got 'matrix'"):
            _connector(server.url, queries=[{"name": "m", "logql": 'rate({app="x"}[5m])'}]).fetch_logs(WINDOW)


def test_an_error_envelope_and_a_non_loki_document_are_refused() -> None:
    with FakeServer() as server:
        server.route(
            "GET", QUERY_RANGE, Reply(json={"status": "error", "errorType": "timeout", "error": "slow"})
        )
        with pytest.raises(LokiError, match="Loki error timeout: slow"):
            _connector(server.url).fetch_logs(WINDOW)
        server.route("GET", QUERY_RANGE, Reply(json=[1, 2]))
        with pytest.raises(PayloadError, match="not a Loki API response"):
            _connector(server.url).fetch_logs(WINDOW)
        server.route(
            "GET",
            QUERY_RANGE,
            Reply(
                json={
                    "status": "success",
                    "data": {"resultType": "streams", "result": [{"stream": {}, "values": [["x", "l"]]}]},
                }
            ),
        )
        with pytest.raises(PayloadError, match="timestamp is not a nanosecond epoch"):
            _connector(server.url).fetch_logs(WINDOW)


# ---------------------------------------------------------------- labels and levels


def test_service_comes_from_the_label_then_job_then_app_then_the_query(loki: FakeServer) -> None:
    records = _connector(loki.url).fetch_logs(WINDOW).records
    services = {r.message.split(" ")[0]: r.service for r in records}
    assert services["GET"] == "checkout" and services["INFO"] == "search"
    assert {r.service for r in records if r.message.startswith("level=error")} == {"prod/payments"}
    custom = _connector(
        loki.url,
        queries=[{"name": "prod", "logql": SELECTOR, "service_label": "namespace"}],
    ).fetch_logs(WINDOW)
    assert {r.service for r in custom.records} == {"prod"}


def test_streams_without_service_labels_keep_their_lines_and_warn_once_per_query() -> None:
    t = ns(T0)
    streams = [
        Stream({"namespace": "prod", "pod": "x-1"}, [(t, "orphan line"), (t + 2, "orphan again")]),
        Stream({"namespace": "prod", "pod": "x-2"}, [(t + 1, "other orphan"), (t + 3, "last")]),
    ]
    with FakeServer() as server:
        server.route("GET", QUERY_RANGE, FakeLoki({SELECTOR: streams}))
        collected = _connector(server.url, limit=2).fetch_logs(WINDOW)
        assert len(collected.raw) == 4  # full pages of 2, each overlapping the next by its last line
        assert [(r.service, r.message) for r in collected.records] == [
            (None, "orphan line"),
            (None, "other orphan"),
            (None, "orphan again"),
            (None, "last"),
        ]
        (warning,) = collected.warnings
        assert "2 stream(s) have none of the labels 'service', 'job', 'app'" in warning
        assert "'pod': 'x-1'" in warning
        fixed = _connector(server.url, queries=[{"name": "p", "logql": SELECTOR, "service": "batch"}])
        result = fixed.fetch_logs(WINDOW)
        assert {r.service for r in result.records} == {"batch"} and result.warnings == []


def test_levels_come_from_labels_first_then_from_the_line() -> None:
    t = ns(T0)
    streams = [
        Stream({"service": "a", "level": "WARNING"}, [(t, "level=error but the label wins")]),
        Stream({"service": "b", "detected_level": "err"}, [(t + 1, "plain")]),
        Stream({"service": "c", "detected_level": "unknown"}, [(t + 2, '{"level":"Info","msg":"json"}')]),
        Stream(
            {"service": "d"},
            [
                (t + 3, "2024-03-01 10:00:00 ERROR payment declined"),
                (t + 4, "ts=1 lvl=debug msg=x"),
                (t + 5, "[CRIT] disk full"),
                (t + 6, "no level: an error happened"),
                (t + 7, 'severity: "warning" msg=y'),
            ],
        ),
    ]
    with FakeServer() as server:
        server.route("GET", QUERY_RANGE, FakeLoki({SELECTOR: streams}))
        records = _connector(server.url).fetch_logs(WINDOW).records
        assert [r.level for r in records] == [
            "warn",
            "error",
            "info",
            "error",
            "debug",
            "critical",
            None,
            "warn",
        ]
        plain = _connector(server.url, detect_level=False).fetch_logs(WINDOW).records
        assert [r.level for r in plain] == ["warn", "error", None, None, None, None, None, None]


def test_detect_levels_is_vectorised_over_a_series() -> None:
    lines = pd.Series(["x WARN y", "level=fatal", "nothing", "PANIC: boom"], index=[10, 11, 12, 13])
    assert detect_levels(lines).to_dict() == {10: "warn", 11: "fatal", 12: None, 13: "fatal"}


def test_structured_metadata_of_categorised_entries_goes_to_attrs() -> None:
    t = ns(T0)
    meta = {"structured_metadata": {"trace_id": "abc123"}, "parsed": {"status": "500"}}
    streams = [Stream({"service": "api", "namespace": "prod"}, [(t, "boom", meta), (t + 1, "plain")])]
    with FakeServer() as server:
        server.route("GET", QUERY_RANGE, FakeLoki({SELECTOR: streams}))
        first, second = _connector(server.url).fetch_logs(WINDOW).records
    assert first.attrs == {"service": "api", "namespace": "prod", "trace_id": "abc123", "status": "500"}
    assert second.attrs == {"service": "api", "namespace": "prod"}


# ---------------------------------------------------------------- tenant and auth


def test_the_tenant_header_is_sent_and_loki_refuses_requests_without_it(monkeypatch) -> None:
    monkeypatch.setenv("LOKI_PASSWORD", "glc_s3cret-value")
    streams = [Stream({"service": "api"}, [(ns(T0), "hello")])]
    with FakeServer() as server:
        server.route("GET", QUERY_RANGE, FakeLoki({SELECTOR: streams}, tenant="team-a"))
        with pytest.raises(HttpError, match=r"HTTP 401.*no org id"):
            _connector(server.url).fetch_logs(WINDOW)
        table = {
            "type": "loki",
            "url": server.url,
            "tenant": "team-a",
            "username": "12345",
            "password": {"env": "LOKI_PASSWORD"},
            "queries": [{"name": "all", "logql": SELECTOR}],
        }
        connector = connector_config("loki", table).build()
        assert [r.message for r in connector.fetch_logs(WINDOW).records] == ["hello"]
        sent = server.requests[-1].headers
        assert sent["x-scope-orgid"] == "team-a" and sent["authorization"].startswith("Basic ")
        assert "glc_s3cret-value" not in repr(connector)


# ---------------------------------------------------------------- config


def test_config_rejects_ambiguous_auth_duplicate_names_and_a_tenant_header() -> None:
    base = {"type": "loki", "url": "http://127.0.0.1:3100", "queries": [{"name": "a", "logql": '{a="b"}'}]}
    settings = connector_config("l", base).settings
    assert settings.limit == 5000 and settings.service_label == "service" and settings.tenant is None
    cases = {
        "either bearer_token or username/password": {"bearer_token": SecretStr("t"), "username": "u"},
        "both username and password": {"username": "u"},
        "query names must be unique": {"queries": [{"name": "a", "logql": '{x="1"}'}] * 2},
        "set the tenant with `tenant`": {"headers": {"X-Scope-OrgID": "t"}},
        r"field 'queries.0.logql'": {"queries": [{"name": "a"}]},
        r"field 'limit'": {"limit": 0},
        r"field 'queries'": {"queries": []},
    }
    for message, fields in cases.items():
        with pytest.raises(ConfigError, match=rf"\[connectors\.l\].*{message}"):
            connector_config("l", {**base, **fields})


def test_config_secrets_come_from_references_and_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    table = {"url": "http://127.0.0.1:9", "queries": [{"name": "a", "logql": SELECTOR}]}
    check_config(CONNECTOR, {**table, "bearer_token": {"env": SECRET_ENV}}, monkeypatch)
    check_config(CONNECTOR, {**table, "username": "u", "password": {"env": SECRET_ENV}}, monkeypatch)


def test_the_documented_example_is_a_valid_config(monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S)
    assert block is not None, f"{DOCS} has no ```toml example"
    monkeypatch.setenv("LOKI_TOKEN", "t0ken-value")
    for name, table in tomllib.loads(block[1])["connectors"].items():
        settings = connector_config(name, table).settings
        assert isinstance(settings, LokiConfig) and settings.queries


# ---------------------------------------------------------------- conformance (fake server)


CASE = ConnectorCase(
    capability="logs",
    build=lambda url, secret: CONNECTOR.create(
        LokiConfig(
            url=url,
            queries=[{"name": "prod", "logql": SELECTOR}],
            limit=15,
            bearer_token=SecretStr(secret),
            backoff=0,
        ),
        "loki",
    ),
    script=lambda server: server.route("GET", QUERY_RANGE, FakeLoki({SELECTOR: _line_streams()})),
    endpoint=QUERY_RANGE,
    window=WINDOW,
    pages=2,  # 27 lines in pages of 15
    min_records=27,
)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_conformance(check, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    check(CASE, caplog, tmp_path)
