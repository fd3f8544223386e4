"""`postmortem webhook` refuses to start, naming the setting, when its configuration is unusable."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from postmortem.cli import main


@pytest.fixture(autouse=True)
def _no_webhook_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("PAGERDUTY", "INCIDENTIO", "GENERIC"):
        monkeypatch.delenv(f"POSTMORTEM_WEBHOOK_{name}_SECRETS", raising=False)


def test_without_a_prefect_api_url_it_will_not_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSTMORTEM_WEBHOOK_PAGERDUTY_SECRETS", "s3cret-value")
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert main(["webhook"]) == 2
    assert "PREFECT_API_URL is not set" in capsys.readouterr().err


def test_without_any_secret_it_will_not_start(capsys: pytest.CaptureFixture[str]) -> None:
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert main(["webhook"]) == 2
    assert "POSTMORTEM_WEBHOOK_PAGERDUTY_SECRETS" in capsys.readouterr().err


def test_a_malformed_incidentio_secret_is_named_but_not_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSTMORTEM_WEBHOOK_INCIDENTIO_SECRETS", "whsec_***leaked-if-printed***")
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert main(["webhook", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "incidentio_secrets" in err and "whsec_ followed by base64" in err
    assert "leaked-if-printed" not in err
