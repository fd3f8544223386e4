"""Shared fixtures: an isolated data directory and one Prefect test harness per session."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def pytest_configure(config: pytest.Config) -> None:
    """Point Prefect at a throwaway home before anything imports it."""
    home = tempfile.mkdtemp(prefix="pm-prefect-home-")
    os.environ["PREFECT_HOME"] = home
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_LOGGING_TO_API_ENABLED"] = "false"
    os.environ.pop("PREFECT_API_URL", None)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh POSTMORTEM_DATA_DIR (SQLite store and reports) for one test."""
    from postmortem.settings import get_settings

    target = tmp_path / "data"
    monkeypatch.setenv("POSTMORTEM_DATA_DIR", str(target))
    monkeypatch.delenv("POSTMORTEM_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield target
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server for the whole session, flow heartbeats off."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(), temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
