"""The real-server helpers fail loudly when a binary is missing, and skip only when told to."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.connectors.servers import SKIP_ENV, require_binary


def test_a_missing_binary_fails_naming_the_debian_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(SKIP_ENV, raising=False)
    with pytest.raises(pytest.fail.Exception, match=r"install the Debian package `prometheus-alertmanager`"):
        require_binary("alertmanager")


def test_a_missing_binary_is_skipped_with_the_package_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv(SKIP_ENV, "1")
    with pytest.raises(
        pytest.skip.Exception, match=r"Debian package `prometheus`.*POSTMORTEM_SKIP_REAL_SERVERS=1"
    ):
        require_binary("promtool")


def test_a_binary_on_path_is_found_under_either_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    upstream = tmp_path / "alertmanager"
    upstream.write_text("#!/bin/sh\n")
    upstream.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert require_binary("alertmanager") == str(upstream)
