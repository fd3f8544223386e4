"""`[quality]` in postmortem.toml: thresholds, accepted values, severities, environment overrides, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.config import load_config
from postmortem.cli import main
from postmortem.model import review_of
from postmortem.settings import get_settings
from tasks.quality import (
    QualityConfigError,
    build_policy,
    check_quality,
    load_quality_settings,
    quality_settings,
)
from tests.tasks.quality_data import DEFECTS, GAP_SERIES, clean, series, write

TOML = """
[collect]
before = "2h"

[quality]
examples = 2

[quality.severity]
"deploys.kind_in_set" = "critical"
ts_in_window = "info"

[quality.mostly]
"logs.level_in_set" = 0.5

[quality.metrics]
max_gap_intervals = 20
scrape_interval = "1m"

[quality.values]
deploy_environments = ["production"]

[quality.cross_source]
tolerance = "30s"
max_lag = { deploys_chat = "2m" }
"""


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Process-wide settings re-read for this test (and forgotten afterwards)."""
    for name in ("POSTMORTEM_CONFIG_FILE", "POSTMORTEM_QUALITY__METRICS__MAX_GAP_INTERVALS"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    quality_settings.cache_clear()
    yield
    get_settings.cache_clear()
    quality_settings.cache_clear()


def config(tmp_path: Path, text: str = TOML) -> Path:
    path = tmp_path / "postmortem.toml"
    path.write_text(text)
    return path


def test_the_file_sets_thresholds_values_and_severities(tmp_path: Path) -> None:
    settings = load_quality_settings(config(tmp_path))
    assert settings.examples == 2
    assert settings.metrics.max_gap_intervals == 20 and settings.metrics.scrape_interval == timedelta(
        minutes=1
    )
    assert settings.values.deploy_environments == ("production",)
    assert settings.values.log_levels[0] == "trace"  # untouched defaults stay
    assert settings.cross_source.tolerance == timedelta(seconds=30)
    assert settings.cross_source.max_lag == {"deploys_chat": timedelta(minutes=2)}
    policy = build_policy(settings)
    assert policy.severity("deploys", "kind_in_set") == "critical"
    assert policy.severity("alerts", "ts_in_window") == policy.severity("deploys", "ts_in_window") == "info"
    assert policy.severity("deploys", "status_in_set") == "warn"
    assert policy.mostly("logs", "level_in_set") == 0.5 and policy.mostly("alerts", "status_in_set") is None


def test_a_missing_file_means_the_defaults(tmp_path: Path) -> None:
    settings = load_quality_settings(tmp_path / "absent.toml")
    assert settings.metrics.max_gap_intervals == 5 and settings.severity == {}


def test_the_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTMORTEM_QUALITY__METRICS__MAX_GAP_INTERVALS", "7")
    assert load_quality_settings(config(tmp_path)).metrics.max_gap_intervals == 7


def test_overrides_change_the_outcome(tmp_path: Path) -> None:
    settings = load_quality_settings(config(tmp_path))
    datasets = clean()
    datasets["metrics"] = GAP_SERIES + series("error_rate", -5, 65)
    datasets["deploys"] += DEFECTS["deploys"][2][1]  # kind teleport
    datasets["logs"] += DEFECTS["logs"][0][1] + DEFECTS["logs"][1][1]  # level verbose; an old line
    results = {
        (r.source, r.check): r for r in check_quality(write(tmp_path / "b", datasets), settings=settings)
    }
    assert results[("metrics", "no_scrape_gap")].success  # 11 missed scrapes < 20
    assert results[("deploys", "environment_in_set")].success  # production only, as configured
    kind = results[("deploys", "kind_in_set")]
    assert not kind.success and kind.severity == "critical"
    level = results[("logs", "level_in_set")]
    assert level.success and level.unexpected_count == 1  # 1 of 5 < half: tolerated, still counted
    assert level.details["kwargs"]["mostly"] == 0.5 and level.details["examples"][0]["value"] == "verbose"
    old = results[("logs", "ts_in_window")]
    assert not old.success and old.severity == "info"
    assert review_of(list(results.values())).reasons == ["deploys / kind_in_set: 1 unexpected records"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[quality.metrics]\nmax_gap_intervals = 'lots'\n",
            "postmortem.toml [quality.metrics] field 'max_gap_intervals': Input should be a valid number",
        ),
        ("[quality.metrics]\ngaps = 3\n", "postmortem.toml [quality.metrics] field 'gaps': unknown field"),
        ("[quality]\nexamples = -1\n", "postmortem.toml [quality] field 'examples': Input should be greater"),
        (
            "[quality.severity]\nts_in_window = 'fatal'\n",
            "postmortem.toml [quality] field 'severity.ts_in_window': Input should be 'info', 'warn' or",
        ),
        (
            "[quality.severity]\nnope = 'warn'\n",
            "postmortem.toml [quality.severity] field 'nope': unknown check",
        ),
        ("[quality.mostly]\n'incident.milestones_in_order' = 0.5\n", "[quality.mostly] field 'incident."),
        (
            "[quality.mostly]\nts_in_window = 1.5\n",
            "[quality.mostly] field 'ts_in_window': 1.5 is not a share",
        ),
        (
            "[quality.cross_source]\ntolerance = 'soon'\n",
            "[quality.cross_source] field 'tolerance': 'soon' is not",
        ),
        ("[quality\n", "postmortem.toml: not valid TOML"),
    ],
)
def test_bad_settings_name_the_file_table_and_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(QualityConfigError) as caught:
        build_policy(load_quality_settings(config(tmp_path, text)))
    assert message in str(caught.value)


def test_the_cli_refuses_a_bad_quality_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None, capsys
) -> None:
    monkeypatch.setenv("POSTMORTEM_CONFIG_FILE", str(config(tmp_path, "[quality.severity]\nnope = 'warn'\n")))
    bundle = write(tmp_path / "b")
    assert main(["analyze", str(bundle.path), "--json", "--no-history"]) == 2
    err = capsys.readouterr().err
    assert "invalid configuration: postmortem.toml [quality.severity] field 'nope': unknown check" in err


def test_the_configured_file_is_used_by_the_analysis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.setenv("POSTMORTEM_CONFIG_FILE", str(config(tmp_path)))
    assert quality_settings().metrics.max_gap_intervals == 20


def test_the_connector_config_accepts_the_quality_table(tmp_path: Path) -> None:
    loaded = load_config(config(tmp_path), types={})
    assert loaded.collect.before == timedelta(hours=2) and loaded.connectors == {}
