"""Fixtures shared by the connector tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.connectors.fakeserver import FakeServer


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """A local HTTP server answering with scripted vendor payloads, stopped after the test."""
    with FakeServer() as srv:
        yield srv
