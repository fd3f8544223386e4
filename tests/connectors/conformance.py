"""The conformance suite every connector passes (Singer-SDK style), against a real local HTTP server.

Use it from a connector's tests:

    from tests.connectors.conformance import CHECKS, ConnectorCase, PLANTED_SECRET, check_config

    CASE = ConnectorCase(
        capability="deploys",
        build=lambda url, secret: CONNECTOR.create(MyConfig(url=url, token=SecretStr(secret)), "x"),
        script=install_vendor_routes,          # FakeServer -> None: the vendor's answers, >= 2 pages
        endpoint="/repos/o/r/deployments",     # the first request; faults are injected there
        window=Window(start, end),
        pages=2,
    )

    @pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
    def test_conformance(check, caplog, tmp_path):
        check(CASE, caplog, tmp_path)

An incident source's own evidence (`incident_evidence`) is checked the same way: set
`incident_id=` and `capability` to the dataset to check (e.g. "chat"); `window` is then unused.

Every check starts a fresh FakeServer, plants PLANTED_SECRET through `build`, captures logs at
DEBUG and asserts the secret never shows in repr(), logs, exceptions, raw payload URIs or records.
Build the connector with `retries >= 3` and `backoff=0` so the retry checks stay fast.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Collected, Window, capabilities_of, fetch, fetch_evidence
from connectors.bundle import load_bundle, write_bundle
from connectors.bundle_format import DATASETS
from connectors.config import ConfigError, connector_config, is_secret
from connectors.http_errors import HttpError, PayloadError
from connectors.registry import ConnectorType
from tests.connectors.fakeserver import FakeServer, Recorded, Reply

PLANTED_SECRET = "pm-planted-Secret-9c1e7b42"
SECRET_ENV = "PM_CONFORMANCE_SECRET"
FETCH_TIMEOUT = 20.0


@dataclass
class ConnectorCase:
    """How to exercise one window capability of one connector against a FakeServer."""

    capability: str
    build: Callable[[str, str], object]
    script: Callable[[FakeServer], None]
    endpoint: str
    window: Window
    method: str = "*"
    min_records: int = 1
    pages: int | None = None
    http: bool = True
    secret_sent: bool = True
    rate_limit: bool = False
    incident_id: str | None = None  # set: `capability` is read from fetch_incident_evidence(incident_id)

    @property
    def needs(self) -> str:
        """The capability the connector must declare for this case."""
        return "incident_evidence" if self.incident_id is not None else self.capability


def _collect(connector: object, case: ConnectorCase) -> Collected:
    """The case's dataset, from a window capability or from the incident's own evidence."""
    if case.incident_id is None:
        return fetch(connector, case.capability, case.window)
    parts = {c.dataset: c for c in fetch_evidence(connector, case.incident_id)}
    assert case.capability in parts, f"fetch_incident_evidence returned no {case.capability!r} dataset"
    return parts[case.capability]


def _fetch(connector: object, case: ConnectorCase) -> Collected:
    """Run the capability in a thread: a pagination loop that never ends fails the test, not hangs it."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = _collect(connector, case)
        except BaseException as exc:  # re-raised in the test thread below
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(FETCH_TIMEOUT)
    assert not thread.is_alive(), (
        f"{case.capability} did not finish in {FETCH_TIMEOUT} s: pagination never ends?"
    )
    if "error" in box:
        raise box["error"]
    return box["value"]


def _sent_secret(requests: list[Recorded], secret: str) -> bool:
    for r in requests:
        texts = [*r.headers.values(), json.dumps(r.query), r.body.decode("utf-8", errors="replace")]
        auth = r.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            texts.append(base64.b64decode(auth.split(" ", 1)[1]).decode("utf-8", errors="replace"))
        if any(secret in t for t in texts):
            return True
    return False


def _assert_no_secret(connector: object, caplog: pytest.LogCaptureFixture, *texts: str) -> None:
    shown = [
        repr(connector),
        repr(vars(connector)) if hasattr(connector, "__dict__") else "",
        caplog.text,
        *texts,
    ]
    for text in shown:
        assert PLANTED_SECRET not in text, f"the planted secret leaked into: {text[:300]!r}"


def _start(case: ConnectorCase, caplog: pytest.LogCaptureFixture) -> tuple[FakeServer, object]:
    caplog.set_level(logging.DEBUG)
    server = FakeServer().start()
    case.script(server)
    return server, case.build(server.url, PLANTED_SECRET)


def _endpoint_calls(server: FakeServer, case: ConnectorCase) -> int:
    return len(server.requests_to(case.endpoint, None if case.method == "*" else case.method))


def _happy_calls(case: ConnectorCase, caplog: pytest.LogCaptureFixture) -> int:
    """Requests the happy path makes to the endpoint (measured, so fault checks can count the extras)."""
    server, connector = _start(case, caplog)
    try:
        _fetch(connector, case)
        return _endpoint_calls(server, case)
    finally:
        server.stop()


def check_records_and_pagination(
    case: ConnectorCase, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Pagination ends, records validate as the dataset's model and load back through the bundle reader."""
    server, connector = _start(case, caplog)
    try:
        assert case.needs in capabilities_of(connector), f"connector lacks capability {case.needs}"
        collected = _fetch(connector, case)
        spec = DATASETS[case.capability]
        assert collected.dataset == case.capability
        assert len(collected.records) >= case.min_records, f"only {len(collected.records)} records"
        for record in collected.records:
            assert isinstance(record, spec.model), f"{type(record).__name__} is not {spec.model.__name__}"
            spec.model.model_validate(record.model_dump())
        assert collected.raw, "no raw payloads were kept"
        assert all(p.source == connector.name for p in collected.raw), (
            "RawPayload.source must be connector.name"
        )
        if case.pages is not None:
            assert _endpoint_calls(server, case) == case.pages, "unexpected number of pages requested"
        if case.http and case.secret_sent:
            assert _sent_secret(server.requests, PLANTED_SECRET), (
                "the configured secret never reached the server"
            )
        write_bundle(
            tmp_path / "bundle",
            {"id": "CONF-1", "severity": "SEV3"},
            {case.capability: [r.model_dump() for r in collected.records]},
        )
        frame = load_bundle(tmp_path / "bundle").frames[case.capability]
        assert len(frame) == len(collected.records)
        dumped = json.dumps([r.model_dump(mode="json") for r in collected.records])
        _assert_no_secret(connector, caplog, dumped, *(p.uri for p in collected.raw))
    finally:
        server.stop()


def _with_faults(
    case: ConnectorCase, caplog: pytest.LogCaptureFixture, *faults: Reply
) -> tuple[FakeServer, object, Collected | None, BaseException | None, float]:
    server, connector = _start(case, caplog)
    server.inject(case.method, case.endpoint, *faults)
    began = time.monotonic()
    try:
        return server, connector, _fetch(connector, case), None, time.monotonic() - began
    except Exception as exc:
        return server, connector, None, exc, time.monotonic() - began


def check_retry_after(case: ConnectorCase, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    """A 429 with `Retry-After: 1` is waited out and retried."""
    if not case.http:
        pytest.skip("not an HTTP connector")
    happy = _happy_calls(case, caplog)
    server, connector, collected, error, elapsed = _with_faults(
        case, caplog, Reply(429, headers={"Retry-After": "1"}, json={"message": "slow down"})
    )
    server.stop()
    assert error is None, f"429 then success must succeed, got {error}"
    assert collected is not None and len(collected.records) >= case.min_records
    assert _endpoint_calls(server, case) == happy + 1
    assert elapsed >= 0.9, "Retry-After was not honoured"
    _assert_no_secret(connector, caplog)


def check_server_errors_retried(
    case: ConnectorCase, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """A 500 and a 503 (with an HTTP-date Retry-After) are retried, then the data arrives."""
    if not case.http:
        pytest.skip("not an HTTP connector")
    happy = _happy_calls(case, caplog)
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 1))
    server, connector, collected, error, _ = _with_faults(
        case, caplog, Reply(500, body="boom"), Reply(503, headers={"Retry-After": date}, body="busy")
    )
    server.stop()
    assert error is None, f"5xx then success must succeed, got {error}"
    assert collected is not None and len(collected.records) >= case.min_records
    assert _endpoint_calls(server, case) == happy + 2
    _assert_no_secret(connector, caplog)


def check_auth_error_not_retried(
    case: ConnectorCase, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """A 401 fails at once with an HttpError (one request), and the error does not show the secret."""
    if not case.http:
        pytest.skip("not an HTTP connector")
    server, connector, _, error, _ = _with_faults(
        case, caplog, Reply(401, json={"message": "Bad credentials"})
    )
    server.stop()
    assert isinstance(error, HttpError), f"401 must raise HttpError, got {error!r}"
    assert error.status == 401
    assert _endpoint_calls(server, case) == 1, "a 401 must not be retried"
    _assert_no_secret(connector, caplog, str(error), repr(error), error.url)


def check_malformed_json(case: ConnectorCase, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    """A 200 whose body is not JSON raises a PayloadError naming the URL."""
    if not case.http:
        pytest.skip("not an HTTP connector")
    server, connector, _, error, _ = _with_faults(case, caplog, Reply(200, body='{"data": [1, 2'))
    server.stop()
    assert isinstance(error, PayloadError), f"malformed JSON must raise PayloadError, got {error!r}"
    assert case.endpoint in str(error)
    _assert_no_secret(connector, caplog, str(error))


def check_rate_limit(case: ConnectorCase, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    """A GitHub-style 403 with `x-ratelimit-remaining: 0` waits for `x-ratelimit-reset` and succeeds."""
    assert case.http and case.rate_limit, "only for HTTP APIs with GitHub-style rate limits"
    reset = str(int(time.time()) + 2)
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    server, connector, collected, error, elapsed = _with_faults(
        case, caplog, Reply(403, headers=headers, json={"message": "API rate limit exceeded"})
    )
    server.stop()
    assert error is None, f"a rate limit within max_wait must be waited out, got {error}"
    assert collected is not None and len(collected.records) >= case.min_records
    assert elapsed >= 0.9
    _assert_no_secret(connector, caplog)


CHECKS: list[Callable[[ConnectorCase, pytest.LogCaptureFixture, Path], None]] = [
    check_records_and_pagination,
    check_retry_after,
    check_server_errors_retried,
    check_auth_error_not_retried,
    check_malformed_json,
]
"""The checks every connector passes."""
RATE_LIMITED_CHECKS = [*CHECKS, check_rate_limit]
"""The checks of a connector whose API has GitHub-style rate limits (`ConnectorCase.rate_limit`)."""


def check_config(ct: ConnectorType, table: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The type's config: secrets come from references (env here) and never show; inline secrets are refused.

    `table` is a valid `[connectors.<name>]` table without `type`; reference its secret fields
    as `{"env": SECRET_ENV}`.
    """
    monkeypatch.setenv(SECRET_ENV, PLANTED_SECRET)
    cfg = connector_config("conformance", {"type": ct.type, **table}, types={ct.type: ct})
    assert PLANTED_SECRET not in repr(cfg) and PLANTED_SECRET not in str(cfg.settings)
    connector = cfg.build()
    assert sorted(ct.capabilities) == sorted(c for c in capabilities_of(connector) if c in ct.capabilities)
    assert PLANTED_SECRET not in repr(connector)
    secrets = [n for n, f in ct.config.model_fields.items() if is_secret(f.annotation, f.metadata)]
    for name in secrets:
        with pytest.raises(ConfigError, match=rf"\[connectors\.conformance\] field '{name}': inline secrets"):
            connector_config("conformance", {"type": ct.type, **table, name: "literal"}, types={ct.type: ct})
    with pytest.raises(ConfigError, match=r"field 'no_such_field'"):
        connector_config("conformance", {"type": ct.type, **table, "no_such_field": 1}, types={ct.type: ct})
