"""`[quality]` in `postmortem.toml`: thresholds, accepted values and severity overrides of the checks.

Read with pydantic-settings: the file's `[quality]` table, then `POSTMORTEM_QUALITY__*` environment
variables (`__` between levels) win, e.g. `POSTMORTEM_QUALITY__METRICS__MAX_GAP_INTERVALS=3`.
A missing file means the defaults; a bad value stops with a message naming the file, table and field.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, TomlConfigSettingsSource

from connectors.config import Duration
from postmortem.model import (
    ACTION_TYPES,
    ALERT_STATUSES,
    CHANGE_KINDS,
    DEPLOY_STATUSES,
    LOG_LEVELS,
    SEVERITIES,
    QualitySeverity,
)

TABLE = "quality"
INCIDENT_STATUSES = (
    "triggered",
    "acknowledged",
    "investigating",
    "identified",
    "monitoring",
    "mitigated",
    "resolved",
    "closed",
    "postmortem",
)
DEPLOY_ENVIRONMENTS = (
    "production",
    "prod",
    "staging",
    "stage",
    "canary",
    "preprod",
    "qa",
    "test",
    "dev",
    "development",
    "sandbox",
)
TICKET_STATUSES = (
    "new",
    "open",
    "todo",
    "to_do",
    "triage",
    "in_progress",
    "in_review",
    "pending",
    "blocked",
    "on_hold",
    "done",
    "resolved",
    "solved",
    "closed",
    "cancelled",
    "canceled",
    "wont_fix",
    "duplicate",
)
SKEW_PAIRS = ("metrics_alerts", "alerts_chat", "deploys_chat", "deploys_logs")


class QualityConfigError(ValueError):
    """A bad `[quality]` setting; the message names the file, the table and the field."""


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowSettings(_Table):
    """`[quality.window]`: the evidence window, `before` the first milestone to `after` the last."""

    before: Duration = Field(timedelta(hours=6), description="lookback before the first milestone")
    after: Duration = Field(timedelta(minutes=30), description="margin after the last milestone")


class ValueSettings(_Table):
    """`[quality.values]`: accepted values of enumerated fields (log levels are case-insensitive)."""

    incident_severities: tuple[str, ...] = SEVERITIES
    incident_statuses: tuple[str, ...] = INCIDENT_STATUSES
    alert_statuses: tuple[str, ...] = ALERT_STATUSES
    log_levels: tuple[str, ...] = LOG_LEVELS
    deploy_statuses: tuple[str, ...] = DEPLOY_STATUSES
    deploy_kinds: tuple[str, ...] = CHANGE_KINDS
    deploy_environments: tuple[str, ...] = DEPLOY_ENVIRONMENTS
    ticket_statuses: tuple[str, ...] = TICKET_STATUSES
    action_types: tuple[str, ...] = ACTION_TYPES
    sha_regex: str = r"^[0-9a-fA-F]{7,40}$"


class MetricsSettings(_Table):
    """`[quality.metrics]`: scrape gaps and coverage of the incident window."""

    scrape_interval: Duration | None = Field(
        None, description="the scrape interval; unset: each series' median interval"
    )
    max_gap_intervals: float = Field(5.0, gt=0, description="a gap longer than this many intervals fails")
    coverage_slack_intervals: float = Field(
        2.0, ge=0, description="a series may start or stop this many intervals inside the incident"
    )


class CrossSourceSettings(_Table):
    """`[quality.cross_source]`: clock-skew detection between sources and alert-versus-metric order."""

    tolerance: Duration = Field(
        timedelta(minutes=1), description="an effect may precede its cause by this much (clock jitter)"
    )
    max_lag: dict[str, Duration] = Field(
        default_factory=lambda: {
            "metrics_alerts": timedelta(minutes=30),
            "alerts_chat": timedelta(minutes=10),
            "deploys_chat": timedelta(minutes=10),
            "deploys_logs": timedelta(minutes=30),
        },
        description="longest plausible delay from cause to effect, per pair",
    )
    match_within: Duration = Field(timedelta(hours=1), description="search radius to pair two records")
    min_pairs: int = Field(3, ge=1, description="matched pairs needed before a pair of sources is judged")
    skew_share: float = Field(
        0.6, gt=0, le=1, description="share of out-of-range pairs that means a consistent shift"
    )


class QualitySettings(BaseSettings):
    """Everything `[quality]` can override; the defaults are the documented checks."""

    model_config = SettingsConfigDict(
        env_prefix="POSTMORTEM_QUALITY__", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    examples: int = Field(5, ge=0, le=100, description="offending rows kept per failed check")
    severity: dict[str, QualitySeverity] = Field(
        default_factory=dict, description='severity overrides by "check" or "dataset.check"'
    )
    mostly: dict[str, float] = Field(
        default_factory=dict, description='share of rows that must pass, by "check" or "dataset.check"'
    )
    window: WindowSettings = WindowSettings()
    values: ValueSettings = ValueSettings()
    metrics: MetricsSettings = MetricsSettings()
    cross_source: CrossSourceSettings = CrossSourceSettings()

    @classmethod
    def settings_customise_sources(  # type: ignore[override]
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        """Environment first, then the file's `[quality]` table passed as init arguments."""
        return (env_settings, init_settings)


class _File(BaseSettings):
    """The whole file, only to take its `[quality]` table (other tables belong to other readers)."""

    model_config = SettingsConfigDict(extra="allow")

    @classmethod
    def settings_customise_sources(  # type: ignore[override]
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        """Only what the caller passes."""
        return (init_settings,)


def parse_quality(table: dict[str, Any], source: str = "postmortem.toml") -> QualitySettings:
    """Validate a `[quality]` table (plus environment overrides); errors name the file, table and field."""
    if not isinstance(table, dict):
        raise QualityConfigError(f"{source} [{TABLE}]: expected a table, got {table!r}")
    try:
        return QualitySettings(**table)
    except ValidationError as exc:
        raise QualityConfigError("; ".join(_problems(exc, source))) from None


def _problems(exc: ValidationError, source: str) -> list[str]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not str(p).startswith("function-")]
        tables = [TABLE]
        while (
            len(loc) > 1 and loc[0] in QualitySettings.model_fields and loc[0] not in ("severity", "mostly")
        ):
            tables.append(loc.pop(0))
        field = ".".join(loc)
        message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        out.append(f"{source} [{'.'.join(tables)}] field '{field}': {message.removeprefix('Value error, ')}")
    return out


def load_quality_settings(path: str | Path) -> QualitySettings:
    """The `[quality]` table of a `postmortem.toml` (defaults when the file or the table is absent)."""
    file = Path(path)
    table: dict[str, Any] = {}
    if file.is_file():
        try:
            table = TomlConfigSettingsSource(_File, toml_file=file)().get(TABLE, {})
        except tomllib.TOMLDecodeError as exc:
            raise QualityConfigError(f"{file.name}: not valid TOML: {exc}") from None
    return parse_quality(table, file.name)


@cache
def quality_settings() -> QualitySettings:
    """The process-wide settings, from the configured `postmortem.toml` (`POSTMORTEM_CONFIG_FILE`)."""
    from postmortem.settings import get_settings

    return load_quality_settings(get_settings().config_file)
