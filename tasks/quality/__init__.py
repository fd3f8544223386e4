"""Data quality of the evidence (DESIGN 1, step 3): GX suites per dataset, cross-source checks, policy.

Modules: `config` (`[quality]` settings), `checks` (a check and its GX expectation), `suites` (the
suite of each dataset and its GX input), `series` (metric gaps and coverage), `incident` (the incident
record's checks), `cross` (cross-source checks), `policy` and `catalogue` (severities), `runner` (the
ephemeral GX context), `results` (QualityResult builders), `validate` (a bundle, dataset by dataset),
`docs` (GX Data Docs). Importing this package does not import Great Expectations.
"""

from tasks.quality.catalogue import CHECK_SEVERITY, QUALITY_CHECKS_VERSION, build_policy, catalogue
from tasks.quality.config import QualityConfigError, QualitySettings, load_quality_settings, quality_settings
from tasks.quality.cross import cross_source_checks
from tasks.quality.suites import actions_frame, dataset_checks
from tasks.quality.validate import check_quality

__all__ = [
    "CHECK_SEVERITY",
    "QUALITY_CHECKS_VERSION",
    "QualityConfigError",
    "QualitySettings",
    "actions_frame",
    "build_policy",
    "catalogue",
    "check_quality",
    "cross_source_checks",
    "dataset_checks",
    "load_quality_settings",
    "quality_settings",
]
