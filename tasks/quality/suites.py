"""The suite of each evidence dataset (defined in code, thresholds from `[quality]`) and its GX input frame.

Keys, timestamps and metric values that the bundle reader requires are enforced there (a structural
error stops the run), so the suites check what the reader lets through: duplicates, values outside
the accepted sets or the window, malformed shas, unmapped records, metric gaps and coverage.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from postmortem.model import Action, Incident
from tasks.quality.checks import Check, at_most, in_set, in_window, not_null, unique
from tasks.quality.config import QualitySettings
from tasks.quality.series import series_keys, series_shape

GAP, UNCOVERED = "gap_intervals", "uncovered_intervals"
SERIES = ("service", "metric")
LOOKBACK = "`ts` inside the lookback window"
CASEFOLD = {("logs", "level")}  # compared lower-cased; the examples show the raw value
PERIOD_CHECKS = {"covers_incident"}  # need the incident's own period (first to last milestone)
WINDOW_CHECKS = {"ts_in_window"}  # need the evidence window


def dataset_checks(settings: QualitySettings) -> dict[str, tuple[Check, ...]]:
    """Every dataset's checks with their default severities, in report order."""
    v, m = settings.values, settings.metrics
    sha_format = Check(
        "sha_format",
        "warn",
        f"`sha`, when set, matches `{v.sha_regex}`",
        "ExpectColumnValuesToMatchRegex",
        {"column": "sha", "regex": v.sha_regex},
    )
    return {
        "alerts": (
            unique("id"),
            in_window(),
            in_set("status", v.alert_statuses),
            Check(
                "ends_after_start",
                "warn",
                "`ends_at` >= `ts` when both are set",
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {
                    "column_A": "ends_at",
                    "column_B": "ts",
                    "or_equal": True,
                    "ignore_row_if": "either_value_is_missing",
                },
            ),
            not_null("service", rule="the alert names the service it fires on"),
        ),
        "metrics": (
            Check(
                "one_value_per_ts",
                "warn",
                "one value per (`ts`, `service`, `metric`)",
                "ExpectCompoundColumnsToBeUnique",
                {"column_list": ["ts", "service", "metric"]},
            ),
            Check(
                "value_numeric",
                "warn",
                "`value` parses as a number (NaN is a missed scrape)",
                "ExpectColumnValuesToBeNull",
                {"column": "value_raw"},
            ),
            in_window(),
            at_most(
                "no_scrape_gap",
                GAP,
                m.max_gap_intervals,
                f"no series misses more than {m.max_gap_intervals:g} scrape intervals in a row",
                ("service", "metric", "ts", GAP),
            ),
            at_most(
                "covers_incident",
                UNCOVERED,
                m.coverage_slack_intervals,
                "each series covers the incident (first to last milestone) to within "
                f"{m.coverage_slack_intervals:g} scrape intervals",
                ("service", "metric", "ts", UNCOVERED),
            ),
        ),
        "logs": (
            in_window(),
            in_set("level", v.log_levels, "`level` is a known level (case-insensitive)"),
            not_null("service", rule="the line names the service that wrote it"),
        ),
        "commits": (
            unique("sha"),
            sha_format,
            in_window(LOOKBACK),
            not_null("service", rule="the commit is mapped to a service"),
        ),
        "deploys": (
            unique("id"),
            in_window(LOOKBACK),
            in_set("status", v.deploy_statuses),
            in_set("kind", v.deploy_kinds),
            not_null("environment", rule="the change names its environment"),
            in_set("environment", v.deploy_environments),
            sha_format,
            not_null("service", rule="the change is mapped to a service"),
        ),
        "chat": (in_window(), not_null("text", rule="the message has a text")),
        "tickets": (unique("key"), in_window(), in_set("status", v.ticket_statuses)),
        "actions": (in_set("type", v.action_types),),
    }


def incident_period(incident: Incident) -> tuple[datetime, datetime] | None:
    """The incident's own span, first to last milestone (None without milestones)."""
    stamps = [t for t in incident.milestones().values() if t is not None]
    return (min(stamps), max(stamps)) if stamps else None


def actions_frame(actions: Sequence[Action]) -> pd.DataFrame:
    """The proposed actions' checked fields as a frame (`_line` from the reader, else the position)."""
    return pd.DataFrame(
        {
            "type": [a.type for a in actions],
            "_line": [getattr(a, "line", i) for i, a in enumerate(actions, start=1)],
        }
    )


def gx_input(
    name: str,
    frame: pd.DataFrame,
    checks: Sequence[Check],
    period: tuple[datetime, datetime] | None,
    settings: QualitySettings,
) -> pd.DataFrame:
    """Only the columns the checks read, normalised, with a positional index (absent columns are null).

    Timestamps are passed as naive UTC (GX's column-pair metrics call `Series.values`, deprecated for
    tz-aware data); enumerations in `CASEFOLD` lower-cased; a metric's `service` and `metric` as
    categoricals (hashed once, cheap for GX to hash, filter and deduplicate); gap and coverage derived.
    """
    wanted = list(dict.fromkeys(c for check in checks for c in check.columns))
    derived: dict[str, Any] = {}
    if name == "metrics":
        keys = series_keys(frame)
        derived |= dict(zip(SERIES, keys, strict=True))
        if GAP in wanted or UNCOVERED in wanted:
            derived[GAP], derived[UNCOVERED] = series_shape(
                frame, keys, period, settings.metrics.scrape_interval
            )
    data: dict[str, Any] = {}
    for column in wanted:
        if column in derived:
            data[column] = derived[column]
            continue
        if column not in frame.columns:
            data[column] = pd.Series(None, index=range(len(frame)), dtype="object")
            continue
        series = frame[column].reset_index(drop=True)
        if (name, column) in CASEFOLD:
            series = series.astype("string").str.lower()
        elif isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert(None)
        data[column] = series
    return pd.DataFrame(data)
