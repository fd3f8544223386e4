"""The connector contract: windows, capability Protocols, dispatch."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from connectors.base import (
    CAPABILITIES,
    AlertSource,
    Collected,
    MetricSource,
    Window,
    capabilities_of,
    fetch,
)
from postmortem.model import MetricPoint

T0 = datetime(2025, 1, 1, 12, tzinfo=UTC)


def test_window_is_aware_utc_and_ordered():
    w = Window(datetime(2025, 1, 1, 14, tzinfo=timezone(timedelta(hours=2))), T0 + timedelta(hours=1))
    assert w.start == T0 and w.start.tzinfo is UTC
    with pytest.raises(ValueError, match=r"Window\.start must be a timezone-aware"):
        Window(datetime(2025, 1, 1), T0)
    with pytest.raises(ValueError, match="is not after start"):
        Window(T0, T0)


def test_window_chunks_cover_it_without_overlap():
    chunks = list(Window(T0, T0 + timedelta(hours=5, minutes=30)).chunks(timedelta(hours=2)))
    assert [c.duration for c in chunks] == [
        timedelta(hours=2),
        timedelta(hours=2),
        timedelta(hours=1, minutes=30),
    ]
    assert all(a.end == b.start for a, b in itertools.pairwise(chunks))


class Metrics:
    name = "m"

    def fetch_metrics(self, window: Window) -> Collected:
        return Collected("metrics", [MetricPoint(ts=window.start, service="a", metric="x", value=1.0)])


class MetricsAndAlerts(Metrics):
    def fetch_alerts(self, window: Window) -> Collected:
        return Collected("logs", [])


def test_capabilities_are_structural():
    assert capabilities_of(Metrics()) == ["metrics"]
    assert capabilities_of(MetricsAndAlerts()) == ["metrics", "alerts"]
    assert isinstance(MetricsAndAlerts(), AlertSource) and not isinstance(object(), MetricSource)
    assert set(CAPABILITIES) >= {"metrics", "logs", "alerts", "commits", "deploys", "incident", "tickets"}


def test_fetch_dispatches_and_checks_the_dataset():
    window = Window(T0, T0 + timedelta(hours=1))
    assert fetch(Metrics(), "metrics", window).records[0].ts == T0
    with pytest.raises(TypeError, match="must return Collected\\(dataset='alerts'\\), got 'logs'"):
        fetch(MetricsAndAlerts(), "alerts", window)
    with pytest.raises(ValueError, match="not a window capability"):
        fetch(Metrics(), "incident", window)
