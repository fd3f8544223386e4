"""The GX runner: one ephemeral context per process, one dataframe asset and cached suites per dataset.

Nothing is written to disk (no `gx/` folder); analytics and progress bars are off. GX is imported on
the first validation, because importing it costs about 3 s. Each dataset is one batch validated
against its whole suite (two passes: see `Runner.validate`); suites are cached by their definition.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from tasks.quality.checks import Check
from tasks.quality.gx_speedup import memoised_configuration

if TYPE_CHECKING:
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult
    from great_expectations.data_context import EphemeralDataContext

SOURCE = "postmortem-evidence"


def ephemeral_context() -> EphemeralDataContext:
    """A new in-memory GX context with analytics and progress bars off."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def expectation(check: Check) -> Any:
    """The GX expectation object of a check, tagged with the check's name."""
    import great_expectations as gx

    kind = getattr(gx.expectations, check.expectation)
    return kind(**check.kwargs, meta={"check": check.name})


class Runner:
    """Validates prepared frames against cached suites in the process' ephemeral context."""

    def __init__(self) -> None:
        self._context = ephemeral_context()
        self._source = self._context.data_sources.add_pandas(SOURCE)
        self._batches: dict[str, BatchDefinition] = {}
        self._suites: dict[tuple[str, str], ExpectationSuite] = {}
        self._lock = threading.Lock()

    def validate(
        self,
        name: str,
        checks: Sequence[Check],
        data: pd.DataFrame,
        params: Mapping[str, Any],
        examples: int,
    ) -> dict[str, ExpectationValidationResult]:
        """Validate one frame against the dataset's suite: results by check name.

        Two passes, to spend GX's per-expectation cost only where it tells something: every check without
        a `mostly` share first runs as BOOLEAN_ONLY (a pass means no unexpected row); the failures and the
        `mostly` checks then run again as SUMMARY (counts and a few offending rows), on their columns only.
        """
        strict = [c for c in checks if "mostly" not in c.kwargs]
        outcomes = self._run(name, strict, data, params, {"result_format": "BOOLEAN_ONLY"}) if strict else {}
        detailed = [c for c in checks if c.name not in outcomes or not outcomes[c.name].success]
        if detailed:
            summary = {"result_format": "SUMMARY", "partial_unexpected_count": examples}
            columns = list(dict.fromkeys(c for check in detailed for c in check.columns))
            outcomes |= self._run(name, detailed, data[columns], params, summary)
        return outcomes

    def _run(
        self,
        name: str,
        checks: Sequence[Check],
        data: pd.DataFrame,
        params: Mapping[str, Any],
        result_format: dict[str, Any],
    ) -> dict[str, ExpectationValidationResult]:
        from great_expectations.validator.v1_validator import Validator

        with self._lock, memoised_configuration():
            validator = Validator(
                batch_definition=self._batch_definition(name),
                batch_parameters={"dataframe": data},
                result_format=result_format,
            )
            report = validator.validate_expectation_suite(self._suite(name, checks), dict(params))
        return {r.expectation_config.meta["check"]: r for r in report.results}

    def _batch_definition(self, name: str) -> BatchDefinition:
        if name not in self._batches:
            asset = self._source.add_dataframe_asset(name)
            self._batches[name] = asset.add_batch_definition_whole_dataframe(name)
        return self._batches[name]

    def _suite(self, name: str, checks: Sequence[Check]) -> ExpectationSuite:
        import great_expectations as gx

        key = (name, repr([(c.name, c.expectation, sorted(c.kwargs.items())) for c in checks]))
        if key not in self._suites:
            suite = gx.ExpectationSuite(name=f"{name}-{len(self._suites)}")
            for check in checks:
                suite.add_expectation(expectation(check))
            self._suites[key] = self._context.suites.add(suite)
        return self._suites[key]


_CREATION = threading.Lock()


def runner() -> Runner:
    """The per-process runner, created once on first use."""
    with _CREATION:
        return _cached_runner()


@cache
def _cached_runner() -> Runner:
    return Runner()
