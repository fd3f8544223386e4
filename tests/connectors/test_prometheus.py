"""Prometheus connector: chunks, the matrix adapter, config, conformance, a real backfilled server."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import SecretStr

from connectors.base import Window
from connectors.config import ConfigError, connector_config
from connectors.http_errors import HttpError, PayloadError
from connectors.prometheus import (
    CONNECTOR,
    PROMETHEUS_MAX_POINTS,
    Chunk,
    PrometheusConfig,
    PrometheusConnector,
    PrometheusError,
    PromQuery,
    envelope_data,
    matrix_series,
    matrix_to_points,
    plan_chunks,
)
from postmortem.model import Incident, MetricPoint
from tests.connectors.conformance import CHECKS, SECRET_ENV, ConnectorCase, check_config
from tests.connectors.fakeserver import FakeServer, Recorded, Reply
from tests.connectors.servers import Server, start_prometheus

DOCS = Path(__file__).resolve().parents[2] / "docs" / "connectors" / "prometheus.md"

# the backfilled data: 7 h at 30 s for three services; checkout's error ratio steps up at INJECTED
T0 = datetime(2024, 3, 1, 5, 0, tzinfo=UTC)
STEP = 30
SAMPLES = 7 * 3600 // STEP
INJECTED = T0 + timedelta(hours=5, minutes=12, seconds=30)
SERVICES = ("checkout", "payments", "search")


def _sec(ts: datetime) -> int:
    return int(ts.timestamp())


def _error_ratio(service: str, seconds: np.ndarray) -> np.ndarray:
    """Deterministic noise around 1 %, plus a step to 25 % for checkout from INJECTED on."""
    rng = np.random.default_rng(sum(map(ord, service)))
    values = 0.01 + rng.normal(0, 0.001, len(seconds))
    if service == "checkout":
        values[seconds >= _sec(INJECTED)] += 0.24
    return values


def _openmetrics() -> str:
    """OpenMetrics text: error ratio (label `service`), latency (label `job` only), a request counter."""
    seconds = _sec(T0) + STEP * np.arange(SAMPLES)
    lines = ["# TYPE http_error_ratio gauge"]
    for service in SERVICES:
        lines += [
            f'http_error_ratio{{service="{service}"}} {v:.6f} {t}'
            for t, v in zip(seconds, _error_ratio(service, seconds), strict=True)
        ]
    lines.append("# TYPE http_latency_seconds gauge")
    for i, service in enumerate(SERVICES):
        lines += [f'http_latency_seconds{{job="{service}"}} {0.1 * (i + 1)} {t}' for t in seconds]
    lines.append("# TYPE http_requests counter")
    for i, service in enumerate(SERVICES):
        rate = 10 * (i + 1)  # requests per second
        lines += [
            f'http_requests_total{{service="{service}"}} {rate * STEP * k} {t}' for k, t in enumerate(seconds)
        ]
    return "\n".join([*lines, "# EOF", ""])


QUERIES = [
    PromQuery(name="error_ratio", promql="http_error_ratio"),
    PromQuery(name="latency", promql="http_latency_seconds", metric="latency_seconds"),
    PromQuery(name="rps", promql="sum by (service) (rate(http_requests_total[2m]))"),
]
WINDOW = Window(T0, T0 + timedelta(seconds=STEP * SAMPLES))


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real Prometheus for this module, backfilled with the generated OpenMetrics text."""
    with start_prometheus(tmp_path_factory.mktemp("prometheus"), _openmetrics()) as server:
        yield server


def _connector(url: str, name: str = "prom", **fields: object) -> PrometheusConnector:
    config = PrometheusConfig.model_validate({"url": url, "queries": QUERIES, "backoff": 0, **fields})
    return PrometheusConnector(config, name)


def _frame(records: list[MetricPoint]) -> pd.DataFrame:
    frame = pd.DataFrame([r.model_dump() for r in records], columns=["ts", "service", "metric", "value"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


# ---------------------------------------------------------------- grid and chunks


def test_chunks_cover_the_epoch_aligned_grid_once_within_the_point_limit() -> None:
    window = Window(T0 + timedelta(seconds=7), T0 + timedelta(hours=2, seconds=1))
    chunks = plan_chunks(window, timedelta(seconds=30), max_points=100)
    times = np.concatenate([np.arange(c.start_ms, c.end_ms + 1, c.step_ms) for c in chunks])
    expected = np.arange((_sec(T0) + 30) * 1000, (_sec(T0) + 7200) * 1000 + 1, 30_000)
    assert np.array_equal(times, expected)  # aligned to the step, in order, no duplicate at the borders
    assert all(c.points <= 100 for c in chunks)
    assert len(chunks) == -(-len(expected) // 100)
    assert chunks[0].params("up") == {
        "query": "up",
        "start": str(_sec(T0) + 30),
        "end": str(_sec(T0) + 30 + 99 * 30),
        "step": "30",
    }


def test_window_end_is_exclusive_and_a_window_between_two_steps_has_no_chunk() -> None:
    chunks = plan_chunks(Window(T0, T0 + timedelta(minutes=1)), timedelta(seconds=30))
    assert [(c.start_ms, c.end_ms) for c in chunks] == [(_sec(T0) * 1000, (_sec(T0) + 30) * 1000)]
    assert (
        plan_chunks(Window(T0 + timedelta(seconds=1), T0 + timedelta(seconds=29)), timedelta(seconds=30))
        == []
    )


def test_sub_second_steps_are_written_as_decimal_seconds() -> None:
    (chunk,) = plan_chunks(Window(T0, T0 + timedelta(seconds=1)), timedelta(milliseconds=250))
    assert chunk.params("up")["step"] == "0.250"
    assert chunk.points == 4


def test_a_day_at_one_second_needs_nine_requests_under_the_default_limit() -> None:
    chunks = plan_chunks(Window(T0, T0 + timedelta(days=1)), timedelta(seconds=1))
    assert len(chunks) == 9
    assert max(c.points for c in chunks) == 10_000 < PROMETHEUS_MAX_POINTS
    assert sum(c.points for c in chunks) == 86_400


# ---------------------------------------------------------------- adapter


def test_matrix_values_parse_special_floats_and_services_fall_back_to_job_then_the_query() -> None:
    series = [
        {
            "metric": {"service": "api", "job": "ignored"},
            "values": [[1709269200, "NaN"], [1709269230.5, "+Inf"]],
        },
        {"metric": {"job": "worker"}, "values": [[1709269200, "-Inf"], [1709269230, "1e-3"]]},
        {"metric": {}, "values": [[1709269200, "2"]]},
    ]
    query = PromQuery(name="errors", promql="x", metric="error_rate", service="batch")
    points, warnings = matrix_to_points(series, query)
    assert warnings == []
    assert [(p.service, p.metric) for p in points] == [
        ("api", "error_rate"),
        ("api", "error_rate"),
        ("worker", "error_rate"),
        ("worker", "error_rate"),
        ("batch", "error_rate"),
    ]
    values = [p.value for p in points]
    assert np.isnan(values[0]) and values[1:4] == [float("inf"), float("-inf"), 0.001] and values[4] == 2.0
    assert points[1].ts == datetime(2024, 3, 1, 5, 0, 30, 500000, tzinfo=UTC)
    assert all(p.ts.utcoffset() == timedelta(0) for p in points)
    for point in points:
        MetricPoint.model_validate(point.model_dump())


def test_unlabelled_and_colliding_series_are_reported_not_silently_merged() -> None:
    series = [
        {"metric": {"instance": "a:9100"}, "values": [[1, "1"]]},
        {"metric": {"team": "x", "instance": "b"}, "values": [[1, "2"]]},
        {"metric": {"team": "x", "instance": "c"}, "values": [[1, "3"]]},
    ]
    points, warnings = matrix_to_points(series, PromQuery(name="up", promql="up", service_label="team"))
    assert [p.value for p in points] == [2.0, 3.0]
    assert len(warnings) == 2
    assert "neither 'team' nor 'job'" in warnings[0] and "a:9100" in warnings[0]
    assert "2 series for service 'x'" in warnings[1] and "sum by (team)" in warnings[1]


def test_error_envelope_and_wrong_result_type_raise_clear_errors() -> None:
    body = {"status": "error", "errorType": "bad_data", "error": 'parse error: unexpected "("'}
    with pytest.raises(
        PrometheusError, match=r'Prometheus error bad_data: parse error: unexpected "\("'
    ) as info:
        envelope_data(body, method="POST", url="http://p/api/v1/query_range", status=400)
    assert info.value.error_type == "bad_data" and info.value.status == 400
    data, warnings = envelope_data(
        {"status": "success", "data": {"resultType": "vector", "result": []}, "warnings": ["w1"]},
        method="POST",
        url="u",
    )
    assert warnings == ["w1"]
    with pytest.raises(PayloadError, match="expected a matrix result, got 'vector'"):
        matrix_series(data, method="POST", url="u")
    with pytest.raises(PayloadError, match="not a Prometheus API response"):
        envelope_data([], method="POST", url="u")


# ---------------------------------------------------------------- config


def test_config_rejects_ambiguous_auth_duplicate_names_and_sub_millisecond_steps() -> None:
    base = {"type": "prometheus", "url": "http://127.0.0.1:9090", "queries": [{"name": "a", "promql": "up"}]}
    assert connector_config("p", base).settings.step == timedelta(seconds=30)
    cases = {
        "either bearer_token or username/password": {"bearer_token": SecretStr("t"), "username": "u"},
        "both username and password": {"username": "u"},
        "query names must be unique": {
            "queries": [{"name": "a", "promql": "up"}, {"name": "a", "promql": "x"}]
        },
        "whole number of milliseconds": {"step": 0.0001},
        r"field 'queries.0.promql'": {"queries": [{"name": "a"}]},
        r"field 'max_points'": {"max_points": 20_000},
    }
    for message, fields in cases.items():
        with pytest.raises(ConfigError, match=rf"\[connectors\.p\].*{message}"):
            connector_config("p", {**base, **fields})


def test_config_secrets_come_from_references_and_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    table = {"url": "http://127.0.0.1:9", "queries": [{"name": "a", "promql": "up"}]}
    check_config(CONNECTOR, {**table, "bearer_token": {"env": SECRET_ENV}}, monkeypatch)
    check_config(CONNECTOR, {**table, "username": "u", "password": {"env": SECRET_ENV}}, monkeypatch)


def test_the_documented_example_is_a_valid_config(monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S)
    assert block is not None, f"{DOCS} has no ```toml example"
    monkeypatch.setenv("PROMETHEUS_TOKEN", "t0ken-value")
    for name, table in tomllib.loads(block[1])["connectors"].items():
        settings = connector_config(name, table).settings
        assert isinstance(settings, PrometheusConfig) and settings.queries


# ---------------------------------------------------------------- conformance (fake server)


def _fake_query_range(request: Recorded) -> Reply:
    """Prometheus' answer shape: one series per service, a point per step in [start, end]."""
    start, end, step = (float(request.arg(k) or 0) for k in ("start", "end", "step"))
    values = [[t, "0.5"] for t in np.arange(start, end + step / 2, step).tolist()]
    result = [{"metric": {"service": s}, "values": values} for s in ("a", "b")]
    return Reply(json={"status": "success", "data": {"resultType": "matrix", "result": result}})


CASE = ConnectorCase(
    capability="metrics",
    build=lambda url, secret: CONNECTOR.create(
        PrometheusConfig(
            url=url,
            queries=[PromQuery(name="q", promql="up")],
            max_points=60,
            bearer_token=SecretStr(secret),
            backoff=0,
        ),
        "prom",
    ),
    script=lambda server: server.route("POST", "/api/v1/query_range", _fake_query_range),
    endpoint="/api/v1/query_range",
    window=Window(T0, T0 + timedelta(hours=1)),  # 120 points at 30 s: two chunks of 60
    pages=2,
)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_conformance(check, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    check(CASE, caplog, tmp_path)


def test_an_error_envelope_behind_an_http_error_names_the_query() -> None:
    body = {"status": "error", "errorType": "execution", "error": "query timed out in expression evaluation"}
    with FakeServer() as server:
        server.route("POST", "/api/v1/query_range", Reply(422, json=body))
        with pytest.raises(PrometheusError) as info:
            _connector(server.url).fetch_metrics(Window(T0, T0 + timedelta(minutes=5)))
    message = str(info.value)
    assert info.value.error_type == "execution" and info.value.status == 422
    assert "query 'error_ratio' (http_error_ratio)" in message and "query timed out" in message
    assert len(server.requests) == 1  # 422 is not retried


# ---------------------------------------------------------------- the real server


def test_reads_back_the_backfilled_series_per_service(prometheus: Server) -> None:
    collected = _connector(prometheus.url).fetch_metrics(WINDOW)
    assert collected.dataset == "metrics" and collected.warnings == []
    assert len(collected.raw) == len(QUERIES)  # 840 points per series: one request per query
    assert all(p.source == "prom" and "query=" in p.uri for p in collected.raw)
    frame = _frame(collected.records)
    counts = frame.groupby(["metric", "service"]).size()
    assert set(counts.index) == {(m, s) for m in ("error_ratio", "latency_seconds", "rps") for s in SERVICES}
    assert (counts.drop("rps") == SAMPLES).all()
    assert (counts["rps"] == SAMPLES - 1).all()  # rate() needs two samples: none at the first step
    assert not frame.duplicated(["ts", "service", "metric"]).any()
    checkout = frame[(frame.metric == "error_ratio") & (frame.service == "checkout")].sort_values("ts")
    seconds = _sec(T0) + STEP * np.arange(SAMPLES)
    assert np.allclose(checkout["value"].to_numpy(), _error_ratio("checkout", seconds), atol=1e-6)
    latency = frame[frame.metric == "latency_seconds"].groupby("service")["value"].mean()
    assert latency.round(3).to_dict() == {"checkout": 0.1, "payments": 0.2, "search": 0.3}  # from `job`
    rps = frame[(frame.metric == "rps") & (frame.ts > T0 + timedelta(minutes=5))].groupby("service")["value"]
    assert rps.mean().round(6).to_dict() == {"checkout": 10.0, "payments": 20.0, "search": 30.0}


def test_a_window_over_the_point_limit_is_chunked_and_matches_one_request(prometheus: Server) -> None:
    query = [PromQuery(name="error_ratio", promql="http_error_ratio")]
    fine = _connector(prometheus.url, queries=query, step="1s")
    whole = Chunk(_sec(T0) * 1000, (_sec(T0) + 7 * 3600 - 1) * 1000, 1000)
    with pytest.raises(PrometheusError, match="11,000 points") as info:  # what a single request would get
        fine.query_range(query[0], whole)
    assert info.value.error_type == "bad_data"

    collected = fine.fetch_metrics(WINDOW)
    assert len(collected.raw) == 3  # 25,200 points per series in chunks of 10,000
    frame = _frame(collected.records)
    assert (frame.groupby("service").size() == 7 * 3600).all()
    assert not frame.duplicated(["ts", "service"]).any()
    assert (
        frame.groupby("service")["ts"].apply(lambda s: s.diff().dropna().eq(pd.Timedelta("1s")).all()).all()
    )

    coarse = _connector(prometheus.url, queries=query, max_points=100).fetch_metrics(WINDOW)
    single = _connector(prometheus.url, queries=query).fetch_metrics(WINDOW)
    assert len(coarse.raw) == -(-SAMPLES // 100) and len(single.raw) == 1
    key = ["service", "ts"]
    pd.testing.assert_frame_equal(
        _frame(coarse.records).sort_values(key, ignore_index=True),
        _frame(single.records).sort_values(key, ignore_index=True),
    )


def test_a_bad_query_fails_with_the_servers_error_type(prometheus: Server) -> None:
    broken = [PromQuery(name="broken", promql="sum(rate(http_requests_total[5m])")]
    with pytest.raises(
        PrometheusError, match=r"query 'broken' .*Prometheus error bad_data: .*parse error"
    ) as info:
        _connector(prometheus.url, queries=broken).fetch_metrics(WINDOW)
    assert isinstance(info.value, HttpError) and info.value.status == 400


def test_onset_detection_finds_the_injected_step(prometheus: Server) -> None:
    from tasks.onset import detect_onsets

    collected = _connector(prometheus.url).fetch_metrics(WINDOW)
    incident = Incident(
        id="INC-PROM",
        severity="SEV2",
        services=["checkout"],
        started_at=INJECTED + timedelta(minutes=3),
        detected_at=INJECTED + timedelta(minutes=8),
        resolved_at=WINDOW.end - timedelta(minutes=20),
    )
    candidates = detect_onsets(_frame(collected.records), incident)
    found = {(c.service, c.metric): c.onset for c in candidates if c.onset is not None}
    onset = found.get(("checkout", "error_ratio"))
    assert onset is not None, f"no onset on checkout/error_ratio; found {found}"
    assert abs(onset - INJECTED) <= timedelta(seconds=STEP)
    best = max(candidates, key=lambda c: c.score)
    assert (best.service, best.metric) == ("checkout", "error_ratio")


def test_a_window_holding_one_evaluation_time_returns_one_point_per_series(prometheus: Server) -> None:
    query = [PromQuery(name="error_ratio", promql="http_error_ratio")]
    collected = _connector(prometheus.url, queries=query).fetch_metrics(Window(T0, T0 + timedelta(seconds=1)))
    assert sorted((p.service, p.ts) for p in collected.records) == [(s, T0) for s in SERVICES]
    empty = _connector(prometheus.url, queries=query).fetch_metrics(
        Window(T0 + timedelta(seconds=1), T0 + timedelta(seconds=2))
    )
    assert empty.records == [] and empty.raw == [] and "holds no evaluation time" in empty.warnings[0]
