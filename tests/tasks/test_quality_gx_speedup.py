"""The memoised GX configuration: same results as GX's own property, scoped to one thread and one block."""

from __future__ import annotations

import threading
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.expectations.expectation import Expectation
from great_expectations.validator.v1_validator import Validator

from tasks.quality.gx_speedup import memoised_configuration
from tasks.quality.runner import ephemeral_context

FRAME = pd.DataFrame(
    {
        "id": ["a", "b", "b", "c", None],
        "status": ["ok", "ok", "weird", None, "ok"],
        "ts": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-09", "2026-01-04"]),
        "ends": pd.to_datetime(["2026-01-02", "2026-01-01", None, "2026-01-10", "2026-01-05"]),
    }
)
WINDOWS = {  # window -> rows with `ts` outside it
    ("2026-01-01", "2026-01-05"): 1,
    ("2026-01-02", "2026-01-03"): 3,
}


def suite_and_batch() -> tuple[Any, Any]:
    """A suite of five expectations (one with suite parameters) and a whole-frame batch definition."""
    context = ephemeral_context()
    asset = context.data_sources.add_pandas("speedup").add_dataframe_asset("frame")
    batch = asset.add_batch_definition_whole_dataframe("frame")
    suite = gx.ExpectationSuite(name="speedup")
    for expectation in (
        gx.expectations.ExpectColumnValuesToBeUnique(column="id"),
        gx.expectations.ExpectColumnValuesToBeInSet(column="status", value_set=["ok"]),
        gx.expectations.ExpectColumnValuesToNotBeNull(column="status"),
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="ts", min_value={"$PARAMETER": "start"}, max_value={"$PARAMETER": "end"}
        ),
        gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="ends", column_B="ts", ignore_row_if="either_value_is_missing"
        ),
    ):
        suite.add_expectation(expectation)
    return context.suites.add(suite), batch


def run(suite: Any, batch: Any, window: tuple[str, str]) -> list[dict[str, Any]]:
    """Validate FRAME for one window: each result's success, type and SUMMARY result."""
    validator = Validator(
        batch_definition=batch,
        batch_parameters={"dataframe": FRAME},
        result_format={"result_format": "SUMMARY"},
    )
    params = {"start": pd.Timestamp(window[0]), "end": pd.Timestamp(window[1])}
    report = validator.validate_expectation_suite(suite, params)
    return [
        {"success": r.success, "type": r.expectation_config.type, "result": r.result} for r in report.results
    ]


def test_results_are_those_of_gx_own_property_for_every_window_in_turn() -> None:
    suite, batch = suite_and_batch()
    plain = {w: run(suite, batch, w) for w in WINDOWS}
    memoised = {}
    for window in [*WINDOWS, *WINDOWS]:  # alternating windows on one cached suite: no window leaks
        with memoised_configuration():
            memoised[window] = run(suite, batch, window)
        assert memoised[window] == plain[window]
    for window, outside in WINDOWS.items():
        between = next(r for r in plain[window] if r["type"] == "expect_column_values_to_be_between")
        assert between["result"]["unexpected_count"] == outside
    assert [r["success"] for r in plain[("2026-01-01", "2026-01-05")]] == [False, False, False, False, False]


def test_the_memo_serves_the_entering_thread_only_and_ends_with_the_block() -> None:
    expectation = gx.expectations.ExpectColumnValuesToBeInSet(column="status", value_set=["ok"])
    original = Expectation.__dict__["configuration"]
    other: list[bool] = []
    with memoised_configuration():
        assert expectation.configuration is expectation.configuration
        thread = threading.Thread(
            target=lambda: other.append(expectation.configuration is expectation.configuration)
        )
        thread.start()
        thread.join()
    assert other == [False]
    assert Expectation.__dict__["configuration"] is original
    assert expectation.configuration is not expectation.configuration
    assert expectation.configuration == expectation.configuration
