"""GX Data Docs of a run's results: static HTML (`index.html`, suites, validations) in a given folder.

The docs are rebuilt from the stored QualityResults (expectation type, arguments, counts and examples),
so any stored run can be rendered again without its data. Only GX-validated checks have a page; the
incident and cross-source checks are computed in Python and appear in the report and `analyze --json`.
The site is built in a fresh ephemeral context that is discarded afterwards; offending values are
redacted like the reports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any

from postmortem.model import QualityResult
from reports.redact import redact_obj
from tasks.quality.catalogue import QUALITY_CHECKS_VERSION
from tasks.quality.runner import SOURCE, ephemeral_context

SITE = "postmortem"
INDEX = "index.html"
DocsWriter = Callable[[Sequence[QualityResult], Path, str, datetime], Path | None]  # write_data_docs' shape


def write_data_docs(
    results: Sequence[QualityResult], folder: Path, run_name: str, run_time: datetime | None = None
) -> Path | None:
    """Build the Data Docs site of the GX results into `folder`; its index page (None: no GX result)."""
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    gx_results = sorted((r for r in results if r.by_gx and "kwargs" in r.details), key=lambda r: r.source)
    if not gx_results:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    context = ephemeral_context()
    context.add_data_docs_site(
        SITE,
        {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    run_id = RunIdentifier(run_name=run_name, run_time=run_time or datetime.now(UTC))
    for source, group in groupby(gx_results, key=lambda r: r.source):
        items = list(group)
        configs = [_configuration(r) for r in items]
        _add_suite(context, source, configs)
        outcomes = [_outcome(r, c) for r, c in zip(items, configs, strict=True)]
        passed = sum(r.success for r in items)
        report = ExpectationSuiteValidationResult(
            success=passed == len(items),
            results=outcomes,
            suite_name=source,
            statistics={
                "evaluated_expectations": len(items),
                "successful_expectations": passed,
                "unsuccessful_expectations": len(items) - passed,
                "success_percent": 100.0 * passed / len(items),
            },
            meta={
                "run_id": run_id,
                "active_batch_definition": {
                    "datasource_name": SOURCE,
                    "data_connector_name": "fluent",
                    "data_asset_name": source,
                    "batch_identifiers": {},
                },
            },
        )
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=source),
            run_id=run_id,
            batch_identifier=source,
        )
        context.validation_results_store.set(key, report)
    context.build_data_docs(site_names=[SITE])
    _prune_static(folder)
    return folder / INDEX


def _configuration(result: QualityResult) -> Any:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    details = result.details
    return ExpectationConfiguration(
        type=details["expectation"],
        kwargs=dict(details["kwargs"]),
        meta={"check": result.check, "severity": result.severity, "rule": details.get("rule", "")},
    )


def _add_suite(context: Any, name: str, configs: Sequence[Any]) -> None:
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=name, meta={"postmortem_checks_version": QUALITY_CHECKS_VERSION})
    for config in configs:
        suite.add_expectation_configuration(config)
    context.suites.add(suite)


def _outcome(result: QualityResult, config: Any) -> Any:
    """The GX expectation result of one stored QualityResult (counts, examples, or the error)."""
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult

    details = result.details
    if details.get("error"):
        return ExpectationValidationResult(
            success=False,
            expectation_config=config,
            exception_info={
                "raised_exception": True,
                "exception_message": details["error"],
                "exception_traceback": None,
            },
        )
    elements = int(details.get("element_count") or 0)
    missing = int(details.get("missing_count") or 0)
    unexpected = result.unexpected_count
    present = max(elements - missing, 0)
    return ExpectationValidationResult(
        success=result.success,
        expectation_config=config,
        result={
            "element_count": elements,
            "missing_count": missing,
            "missing_percent": 100.0 * missing / elements if elements else 0.0,
            "unexpected_count": unexpected,
            "unexpected_percent": float(details.get("unexpected_percent") or 0.0),
            "unexpected_percent_total": 100.0 * unexpected / elements if elements else 0.0,
            "unexpected_percent_nonmissing": 100.0 * unexpected / present if present else 0.0,
            "partial_unexpected_list": redact_obj([e.get("value") for e in details.get("examples") or []]),
        },
    )


def _prune_static(folder: Path) -> None:
    """Drop GX's bundled tutorial images that no written page or stylesheet refers to (about 3 MB)."""
    images = folder / "static" / "images"
    if not images.is_dir():
        return
    text = "".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in folder.rglob("*")
        if p.suffix in (".html", ".css", ".js")
    )
    for image in images.iterdir():
        if image.name not in text:
            image.unlink()
