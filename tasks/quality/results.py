"""QualityResult builders: a GX expectation result with a few offending rows, notes, computed checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from connectors.bundle_format import LINE
from postmortem.model import QualityResult, QualitySeverity
from tasks.clean import json_safe
from tasks.quality.checks import Check

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult


def gx_result(
    source: str,
    check: Check,
    outcome: ExpectationValidationResult,
    frame: pd.DataFrame,
    data: pd.DataFrame,
    examples: int,
) -> QualityResult:
    """A GX expectation result as a QualityResult with a few offending rows and their source lines.

    A check GX could not compute (GX catches the exception) is a critical failure naming the error.
    """
    kwargs = {k: json_safe(v) for k, v in outcome.expectation_config.kwargs.items() if k != "batch_id"}
    details: dict[str, Any] = {"expectation": check.expectation_type, "rule": check.rule, "kwargs": kwargs}
    errors = _exception_messages(outcome.exception_info or {})
    if errors:
        details |= {"error": "; ".join(errors), "examples": [], "element_count": len(frame)}
        return QualityResult(
            source=source, check=check.name, success=False, severity="critical", details=details
        )
    result = outcome.result  # empty for a pass in the BOOLEAN_ONLY format: no unexpected row
    positions = [int(p) for p in result.get("partial_unexpected_index_list") or []][:examples]
    details["examples"] = offending_rows(frame, data, check.example_columns, positions)
    details["element_count"] = int(result.get("element_count", len(frame)))
    if "missing_count" in result:
        details["missing_count"] = int(result["missing_count"])
    details["unexpected_percent"] = round(float(result.get("unexpected_percent") or 0.0), 4)
    return QualityResult(
        source=source,
        check=check.name,
        success=bool(outcome.success),
        unexpected_count=int(result.get("unexpected_count") or 0),
        severity=check.severity,
        details=details,
    )


def offending_rows(
    frame: pd.DataFrame, data: pd.DataFrame, columns: Sequence[str], positions: Sequence[int]
) -> list[dict[str, Any]]:
    """The raw values (derived ones from `data`) at these row positions, with their source lines."""
    if not positions:
        return []
    raw = frame.iloc[list(positions)]
    rows = []
    for k, pos in enumerate(positions):
        values = {c: raw[c].iloc[k] if c in raw.columns else data[c].iloc[pos] for c in columns}
        line = raw[LINE].iloc[k] if LINE in raw.columns else None
        value = values[columns[0]] if len(columns) == 1 else values
        rows.append({"line": int(line) if line is not None else None, "value": json_safe(_rounded(value))})
    return rows


def _rounded(value: Any) -> Any:
    """Derived floats rounded for reading; everything else as is."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, float | np.floating) and np.isfinite(value):
        return round(float(value), 2)
    return value


def _exception_messages(info: Mapping[str, Any]) -> list[str]:
    """Messages of the exceptions GX caught while computing an expectation (flat or keyed by metric)."""
    entries = [info] if "raised_exception" in info else list(info.values())
    return [
        str(e.get("exception_message"))
        for e in entries
        if isinstance(e, Mapping) and e.get("raised_exception")
    ]


def note(source: str, check: str, text: str) -> QualityResult:
    """An informational result: nothing failed, but the reader should know."""
    return QualityResult(
        source=source,
        check=check,
        success=True,
        severity="info",
        details={"expectation": None, "note": text, "examples": [], "element_count": 0},
    )


def computed(
    source: str,
    check: str,
    severity: QualitySeverity,
    rule: str,
    unexpected: int,
    examples: list[dict[str, Any]],
    elements: int,
    *,
    success: bool | None = None,
    summary: str | None = None,
    **extra: Any,
) -> QualityResult:
    """The result of a check computed in pandas (cross-source): success unless something is unexpected."""
    details: dict[str, Any] = {
        "expectation": f"pandas:{check}",
        "rule": rule,
        "examples": json_safe(examples),
        "element_count": elements,
        **json_safe(extra),
    }
    if summary:
        details["summary"] = summary
    return QualityResult(
        source=source,
        check=check,
        success=unexpected == 0 if success is None else success,
        unexpected_count=unexpected,
        severity=severity,
        details=details,
    )
