"""A data-quality check: its stable name, default severity, rule, and the GX expectation that runs it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from postmortem.model import QualitySeverity

WINDOW_START, WINDOW_END = "window_start", "window_end"  # suite parameters, set per validation


@dataclass(frozen=True)
class Check:
    """One check of a dataset suite: a GX expectation (class name and arguments) with its policy."""

    name: str
    severity: QualitySeverity
    rule: str
    expectation: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    shown: tuple[str, ...] = ()  # columns printed in the examples (default: the columns it reads)

    @property
    def columns(self) -> list[str]:
        """The prepared-frame columns the expectation reads."""
        kw = self.kwargs
        if "column_list" in kw:
            return list(kw["column_list"])
        if "column_A" in kw:
            return [kw["column_A"], kw["column_B"]]
        return [kw["column"]]

    @property
    def example_columns(self) -> list[str]:
        """The columns shown for an offending row."""
        return list(self.shown) or self.columns

    @property
    def expectation_type(self) -> str:
        """GX's snake-case expectation type, e.g. `expect_column_values_to_be_in_set`."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.expectation).lower()

    def with_policy(self, severity: QualitySeverity, mostly: float | None) -> Check:
        """The same check with an overridden severity and, when given, GX's `mostly` share."""
        kwargs = dict(self.kwargs) | ({"mostly": mostly} if mostly is not None else {})
        return Check(self.name, severity, self.rule, self.expectation, kwargs, self.shown)


def not_null(column: str, severity: QualitySeverity = "warn", rule: str = "") -> Check:
    """`<column>_not_null`: the column is set."""
    return Check(
        f"{column}_not_null",
        severity,
        rule or f"`{column}` is set",
        "ExpectColumnValuesToNotBeNull",
        {"column": column},
    )


def unique(column: str) -> Check:
    """`<column>_unique`: no two records share the value (every row of a duplicate group counts)."""
    return Check(
        f"{column}_unique",
        "warn",
        f"no two records share the same `{column}`",
        "ExpectColumnValuesToBeUnique",
        {"column": column},
    )


def in_set(column: str, values: Sequence[str], rule: str = "") -> Check:
    """`<column>_in_set`: the value, when set, is one of `values`."""
    return Check(
        f"{column}_in_set",
        "warn",
        rule or f"`{column}` is one of the accepted values",
        "ExpectColumnValuesToBeInSet",
        {"column": column, "value_set": list(values)},
    )


def in_window(rule: str = "`ts` inside the evidence window") -> Check:
    """`ts_in_window`: the timestamp lies inside the evidence window (a suite parameter)."""
    return Check(
        "ts_in_window",
        "warn",
        rule,
        "ExpectColumnValuesToBeBetween",
        {"column": "ts", "min_value": {"$PARAMETER": WINDOW_START}, "max_value": {"$PARAMETER": WINDOW_END}},
    )


def at_most(name: str, column: str, limit: float, rule: str, shown: Sequence[str]) -> Check:
    """`name`: a derived numeric column, when set, is at most `limit`."""
    return Check(
        name,
        "warn",
        rule,
        "ExpectColumnValuesToBeBetween",
        {"column": column, "max_value": limit},
        tuple(shown),
    )
