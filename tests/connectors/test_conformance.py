"""The conformance suite, run on the sample connector, and shown to catch one that breaks the rules."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from connectors.base import Collected, Window
from connectors.http import BearerAuth, HttpClient
from postmortem.model import MetricPoint
from tests.connectors import sample_connector as sample
from tests.connectors.conformance import (
    RATE_LIMITED_CHECKS,
    ConnectorCase,
    check_config,
    check_records_and_pagination,
)


def build(url: str, secret: str) -> object:
    """The sample connector against the fake server, with fast retries."""
    config = sample.SampleConfig(url=url, token=SecretStr(secret), backoff=0.0, retries=3, max_wait=5)
    return sample.CONNECTOR.create(config, "sample")


METRICS = ConnectorCase(
    "metrics", build, sample.script, "/api/points", sample.WINDOW, pages=2, rate_limit=True
)
DEPLOYS = ConnectorCase(
    "deploys", build, sample.script, "/api/releases", sample.WINDOW, pages=2, min_records=2, rate_limit=True
)


@pytest.mark.parametrize("case", [METRICS, DEPLOYS], ids=["metrics", "deploys"])
@pytest.mark.parametrize("check", RATE_LIMITED_CHECKS, ids=lambda c: c.__name__)
def test_sample_connector_conforms(check, case, caplog, tmp_path):
    check(case, caplog, tmp_path)


def test_sample_config_conforms(monkeypatch):
    check_config(
        sample.CONNECTOR,
        {"url": "http://127.0.0.1:9", "token": {"env": "PM_CONFORMANCE_SECRET"}},
        monkeypatch,
    )


class LeakyConnector:
    """Breaks the rules: keeps the token as a plain string attribute."""

    def __init__(self, url: str, secret: str):
        self.name, self.token = "leaky", secret
        self.client = HttpClient(url, source="leaky", auth=BearerAuth(secret))

    def fetch_metrics(self, window: Window) -> Collected:
        """The first page of points."""
        body, raw = self.client.get_json("/api/points")
        points = [MetricPoint(ts=p["t"], service=p["svc"], metric=p["name"], value=p["v"]) for p in body]
        return Collected("metrics", points, [raw])


def test_the_suite_fails_a_leaky_connector(caplog, tmp_path):
    case = ConnectorCase("metrics", LeakyConnector, sample.script, "/api/points", sample.WINDOW)
    with pytest.raises(AssertionError, match="planted secret leaked"):
        check_records_and_pagination(case, caplog, tmp_path)
