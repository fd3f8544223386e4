"""Data-quality checks on the raw evidence frames, with Great Expectations 1.x (DESIGN 1, step 3).

Every dataset is validated by one GX suite, built once per process on an in-memory (ephemeral) GX context:
nothing is written to disk (no `gx/` folder), analytics and progress bars are off. GX is imported lazily,
on the first validation, because importing it costs about 3 s. Only the columns a suite needs are passed
to GX, with a positional index so that the offending rows map back to their `_line` numbers.

Check names are stable (reports, the store and other tools rely on them):

| check                 | datasets                      | rule                                               |
|-----------------------|-------------------------------|----------------------------------------------------|
| `<key>_not_null`      | keys of each dataset; `ts`    | key columns are set                                |
| `<key>_unique`        | alerts, commits, deploys, tickets | no two records share an id (*)                 |
| `one_value_per_ts`    | metrics                       | one value per (`ts`, `service`, `metric`) (*)      |
| `ts_in_window`        | all                           | `ts` inside the incident window                    |
| `status_in_set`       | alerts, deploys               | `ALERT_STATUSES`, `DEPLOY_STATUSES`                |
| `kind_in_set`         | deploys                       | `CHANGE_KINDS`                                     |
| `level_in_set`        | logs                          | `LOG_LEVELS`, case-insensitive                     |
| `type_in_set`         | actions                       | `ACTION_TYPES`                                     |
| `sha_format`          | commits, deploys              | 7 to 40 hex digits (deploys: when set)             |
| `value_numeric`       | metrics                       | values parse as numbers                            |
| `ends_after_start`    | alerts                        | `ends_at` >= `ts` when both are set                |
| `milestones_in_order` | incident                      | started <= detected <= ... <= resolved             |
| `services_not_empty`  | incident                      | the incident names at least one service            |

(*) as in GX, `unexpected_count` counts every row of a duplicate group, the first occurrence included
(the cleaning step quarantines only the later ones).

Severity policy (`CHECK_SEVERITY`): a failure is `critical` when the evidence cannot be trusted to place
or identify records (a missing key or timestamp, milestones out of order), `warn` when records are kept or
quarantined and the analysis goes on (duplicates, unknown enum values, malformed shas, out-of-window
timestamps, non-numeric values), `info` for notes (absent or empty datasets, checks that cannot run).
A result carries its check's severity whether it passed or failed; failures are `success=False`.
A check that GX could not compute (its exception is caught by GX) is reported as a critical failure
with the error message in `details["error"]`, never dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from connectors.bundle import DATASETS, LINE, Bundle, incident_window
from postmortem.model import (
    ACTION_TYPES,
    ALERT_STATUSES,
    CHANGE_KINDS,
    DEPLOY_STATUSES,
    LOG_LEVELS,
    Action,
    Incident,
    QualityResult,
    QualitySeverity,
)
from tasks.clean import json_safe

if TYPE_CHECKING:
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult

QUALITY_CHECKS_VERSION = "1"

CHECK_SEVERITY: dict[str, QualitySeverity] = {
    "id_not_null": "critical",
    "sha_not_null": "critical",
    "key_not_null": "critical",
    "ts_not_null": "critical",
    "service_not_null": "critical",
    "metric_not_null": "critical",
    "milestones_in_order": "critical",
    "id_unique": "warn",
    "sha_unique": "warn",
    "key_unique": "warn",
    "one_value_per_ts": "warn",
    "ts_in_window": "warn",
    "status_in_set": "warn",
    "kind_in_set": "warn",
    "level_in_set": "warn",
    "type_in_set": "warn",
    "sha_format": "warn",
    "value_numeric": "warn",
    "ends_after_start": "warn",
    "services_not_empty": "warn",
    "dataset_absent": "info",
    "dataset_empty": "info",
}

SHA_REGEX = r"^[0-9a-fA-F]{7,40}$"
EXAMPLES = 5
WINDOW_START, WINDOW_END = "window_start", "window_end"
ACTIONS = "actions"
INCIDENT = "incident"


@dataclass(frozen=True)
class Check:
    """One data-quality check: its stable name and the GX expectation (class name and arguments) behind it."""

    name: str
    expectation: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        """The frame columns the expectation reads."""
        kw = self.kwargs
        if "column_list" in kw:
            return list(kw["column_list"])
        if "column_A" in kw:
            return [kw["column_A"], kw["column_B"]]
        return [kw["column"]]

    @property
    def windowed(self) -> bool:
        """Whether the check needs the incident window."""
        return self.name == "ts_in_window"


def _not_null(column: str) -> Check:
    return Check(f"{column}_not_null", "ExpectColumnValuesToNotBeNull", {"column": column})


def _unique(column: str) -> Check:
    return Check(f"{column}_unique", "ExpectColumnValuesToBeUnique", {"column": column})


def _in_set(column: str, values: Sequence[str]) -> Check:
    return Check(
        f"{column}_in_set", "ExpectColumnValuesToBeInSet", {"column": column, "value_set": list(values)}
    )


_IN_WINDOW = Check(
    "ts_in_window",
    "ExpectColumnValuesToBeBetween",
    {"column": "ts", "min_value": {"$PARAMETER": WINDOW_START}, "max_value": {"$PARAMETER": WINDOW_END}},
)
_SHA_FORMAT = Check("sha_format", "ExpectColumnValuesToMatchRegex", {"column": "sha", "regex": SHA_REGEX})

DATASET_CHECKS: dict[str, tuple[Check, ...]] = {
    "alerts": (
        _not_null("id"),
        _not_null("ts"),
        _unique("id"),
        _IN_WINDOW,
        _in_set("status", ALERT_STATUSES),
        Check(
            "ends_after_start",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {
                "column_A": "ends_at",
                "column_B": "ts",
                "or_equal": True,
                "ignore_row_if": "either_value_is_missing",
            },
        ),
    ),
    "metrics": (
        _not_null("ts"),
        _not_null("service"),
        _not_null("metric"),
        Check(
            "one_value_per_ts",
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": ["ts", "service", "metric"]},
        ),
        _IN_WINDOW,
        Check("value_numeric", "ExpectColumnValuesToBeNull", {"column": "value_raw"}),
    ),
    "logs": (_not_null("ts"), _IN_WINDOW, _in_set("level", LOG_LEVELS)),
    "commits": (_not_null("sha"), _not_null("ts"), _unique("sha"), _SHA_FORMAT, _IN_WINDOW),
    "deploys": (
        _not_null("id"),
        _not_null("ts"),
        _unique("id"),
        _IN_WINDOW,
        _in_set("status", DEPLOY_STATUSES),
        _in_set("kind", CHANGE_KINDS),
        _SHA_FORMAT,
    ),
    "chat": (_not_null("ts"), _IN_WINDOW),
    "tickets": (_not_null("key"), _not_null("ts"), _unique("key"), _IN_WINDOW),
    ACTIONS: (_in_set("type", ACTION_TYPES),),
}

# columns compared after a normalisation (the examples still show the raw values)
_CASEFOLD = {("logs", "level")}


def check_quality(bundle: Bundle, *, window: tuple[datetime, datetime] | None = None) -> list[QualityResult]:
    """Run every check on the raw frames: one result per check per dataset, incident checks first."""
    start, end = window if window is not None else incident_window(bundle.incident)
    results = incident_checks(bundle.incident)
    inputs: dict[str, tuple[pd.DataFrame, str]] = {
        name: (bundle.frames.get(name, pd.DataFrame()), DATASETS[name].file)
        for name in DATASET_CHECKS
        if name != ACTIONS
    }
    inputs[ACTIONS] = (actions_frame(bundle.actions), "actions.jsonl")
    for name, (frame, file) in inputs.items():
        if frame.empty:
            check = "dataset_empty" if file in bundle.present else "dataset_absent"
            what = "has no records" if file in bundle.present else "is not in the bundle"
            results.append(_note(name, check, f"{file} {what}: its checks were not run"))
            continue
        results += validate_frame(name, frame, start, end)
    return results


def validate_frame(
    name: str, frame: pd.DataFrame, start: datetime | None, end: datetime | None
) -> list[QualityResult]:
    """Validate one non-empty raw frame with its dataset's GX suite (window checks need start and end)."""
    windowed = start is not None and end is not None
    checks = [c for c in DATASET_CHECKS[name] if windowed or not c.windowed]
    data = _gx_input(name, frame, checks)
    params = {WINDOW_START: _naive_utc(start), WINDOW_END: _naive_utc(end)} if windowed else {}
    outcomes = {
        r.expectation_config.meta["check"]: r for r in _validator().validate(name, checks, data, params)
    }
    lines = frame[LINE].to_numpy() if LINE in frame.columns else None
    results = [_result(name, check, outcomes[check.name], frame, lines) for check in checks]
    if not windowed:
        results.append(_note(name, "ts_in_window", "the incident has no milestones, so no window to check"))
    return results


def _naive_utc(moment: datetime | None) -> pd.Timestamp:
    """An aware moment as a naive UTC timestamp, like the timestamp columns GX sees."""
    return pd.Timestamp(moment).tz_convert(None)


def incident_checks(incident: Incident) -> list[QualityResult]:
    """Plain-python checks on the single incident record: milestone order and services."""
    present = [(k, t) for k, t in incident.milestones().items() if t is not None]
    examples = []
    latest: tuple[str, datetime] | None = None
    for key, ts in present:
        if latest is not None and ts < latest[1]:
            examples.append(
                {
                    "milestone": key,
                    "value": json_safe(ts),
                    "before": latest[0],
                    "before_value": json_safe(latest[1]),
                }
            )
        if latest is None or ts >= latest[1]:
            latest = (key, ts)
    order = QualityResult(
        source=INCIDENT,
        check="milestones_in_order",
        success=not examples,
        unexpected_count=len(examples),
        severity=CHECK_SEVERITY["milestones_in_order"],
        details={
            "expectation": "python:milestones_in_order",
            "examples": examples,
            "element_count": len(present),
        },
    )
    services = QualityResult(
        source=INCIDENT,
        check="services_not_empty",
        success=bool(incident.services),
        unexpected_count=0 if incident.services else 1,
        severity=CHECK_SEVERITY["services_not_empty"],
        details={"expectation": "python:services_not_empty", "examples": [], "element_count": 1},
    )
    return [order, services]


def actions_frame(actions: Sequence[Action]) -> pd.DataFrame:
    """The proposed actions' checked fields as a frame (`_line` from the reader, else the position)."""
    return pd.DataFrame(
        {
            "type": [a.type for a in actions],
            LINE: [getattr(a, "line", i) for i, a in enumerate(actions, start=1)],
        }
    )


def _gx_input(name: str, frame: pd.DataFrame, checks: Sequence[Check]) -> pd.DataFrame:
    """Only the columns the checks read, normalised, with a positional index (absent columns are null).

    Timestamps are passed as naive UTC; the examples in the results still show the raw, aware values.
    """
    data: dict[str, Any] = {}
    for column in dict.fromkeys(c for check in checks for c in check.columns):
        if column not in frame.columns:
            data[column] = pd.Series(None, index=range(len(frame)), dtype="object")
            continue
        series = frame[column].reset_index(drop=True)
        if (name, column) in _CASEFOLD:
            series = series.astype("string").str.lower()
        elif isinstance(series.dtype, pd.DatetimeTZDtype):
            # naive UTC: GX's column-pair metrics call `Series.values`, deprecated for tz-aware data
            series = series.dt.tz_convert(None)
        data[column] = series
    return pd.DataFrame(data)


def _result(
    name: str, check: Check, outcome: ExpectationValidationResult, frame: pd.DataFrame, lines: Any
) -> QualityResult:
    """A GX expectation result as a QualityResult with a few offending values and their lines."""
    details: dict[str, Any] = {"expectation": outcome.expectation_config.type}
    errors = _exception_messages(outcome.exception_info or {})
    if errors:
        details |= {"error": "; ".join(errors), "examples": [], "element_count": len(frame)}
        return QualityResult(
            source=name, check=check.name, success=False, severity="critical", details=details
        )
    result = outcome.result
    positions = [int(p) for p in result.get("partial_unexpected_index_list") or []][:EXAMPLES]
    details["examples"] = _examples(frame, check.columns, positions, lines)
    details["element_count"] = int(result.get("element_count", len(frame)))
    return QualityResult(
        source=name,
        check=check.name,
        success=bool(outcome.success),
        unexpected_count=int(result.get("unexpected_count") or 0),
        severity=CHECK_SEVERITY[check.name],
        details=details,
    )


def _examples(
    frame: pd.DataFrame, columns: list[str], positions: list[int], lines: Any
) -> list[dict[str, Any]]:
    """The raw offending values at these row positions, with their source line numbers."""
    if not positions:
        return []
    rows = frame.iloc[positions].reindex(columns=columns)  # an absent column reads as null
    examples = []
    for pos, values in zip(positions, rows.to_dict("records"), strict=True):
        value = values[columns[0]] if len(columns) == 1 else values
        examples.append({"line": int(lines[pos]) if lines is not None else None, "value": json_safe(value)})
    return examples


def _exception_messages(info: Mapping[str, Any]) -> list[str]:
    """Messages of the exceptions GX caught while computing an expectation (flat or keyed by metric)."""
    entries = [info] if "raised_exception" in info else list(info.values())
    return [
        str(e.get("exception_message"))
        for e in entries
        if isinstance(e, Mapping) and e.get("raised_exception")
    ]


def _note(source: str, check: str, note: str) -> QualityResult:
    """An informational result: nothing failed, but the reader should know."""
    return QualityResult(
        source=source,
        check=check,
        success=True,
        severity="info",
        details={"expectation": None, "note": note, "examples": [], "element_count": 0},
    )


class _Validator:
    """The process' ephemeral GX context, with one dataframe asset and cached suites per dataset."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        self._gx = gx
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        )
        self._context = gx.get_context(mode="ephemeral", project_config=config)
        self._source = self._context.data_sources.add_pandas("postmortem-evidence")
        self._batches: dict[str, BatchDefinition] = {}
        self._suites: dict[tuple[str, tuple[str, ...]], ExpectationSuite] = {}
        self._lock = threading.Lock()

    def validate(
        self, name: str, checks: Sequence[Check], data: pd.DataFrame, params: Mapping[str, Any]
    ) -> list[ExpectationValidationResult]:
        """Validate a frame against the dataset's suite (SUMMARY results, a few examples per check)."""
        with self._lock:
            batch = self._batch_definition(name).get_batch(batch_parameters={"dataframe": data})
            report = batch.validate(
                self._suite(name, checks),
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES},
                expectation_parameters=dict(params),
            )
        return list(report.results)

    def _batch_definition(self, name: str) -> BatchDefinition:
        if name not in self._batches:
            asset = self._source.add_dataframe_asset(name)
            self._batches[name] = asset.add_batch_definition_whole_dataframe(name)
        return self._batches[name]

    def _suite(self, name: str, checks: Sequence[Check]) -> ExpectationSuite:
        key = (name, tuple(c.name for c in checks))
        if key not in self._suites:
            suite = self._gx.ExpectationSuite(name=f"{name}-v{QUALITY_CHECKS_VERSION}-{len(self._suites)}")
            for check in checks:
                kind = getattr(self._gx.expectations, check.expectation)
                suite.add_expectation(kind(**check.kwargs, meta={"check": check.name}))
            self._suites[key] = self._context.suites.add(suite)
        return self._suites[key]


_CREATION = threading.Lock()


def _validator() -> _Validator:
    """The per-process validator, created once on first use (importing GX costs about 3 s)."""
    with _CREATION:
        return _cached_validator()


@cache
def _cached_validator() -> _Validator:
    return _Validator()
