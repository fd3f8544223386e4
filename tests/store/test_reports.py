"""Report versions: numbered per incident, chained by content hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from postmortem.model import ReportVersion
from postmortem.store import Store

T = datetime(2025, 3, 5, 9, 0, tzinfo=UTC)


def _rv(version: int, parent: str | None, incident_id: str = "INC-1") -> ReportVersion:
    return ReportVersion(
        incident_id=incident_id,
        version=version,
        content_hash=f"{version:064x}",
        parent_hash=parent,
        path=f"reports/{incident_id}/v{version}",
        created_at=T + timedelta(hours=version),
    )


def test_latest_report_version_follows_additions(store: Store) -> None:
    assert store.latest_report_version("INC-1") is None
    store.add_report_version(_rv(1, None))
    store.add_report_version(_rv(2, f"{1:064x}"))
    store.add_report_version(_rv(1, None, incident_id="INC-2"))
    assert store.latest_report_version("INC-1") == _rv(2, f"{1:064x}")
    assert [rv.version for rv in store.report_versions("INC-1")] == [1, 2]
    assert store.latest_report_version("INC-2") == _rv(1, None, incident_id="INC-2")


def test_a_version_number_cannot_be_reused(store: Store) -> None:
    store.add_report_version(_rv(1, None))
    with pytest.raises(ValueError, match="already exists"):
        store.add_report_version(_rv(1, None))
    assert len(store.report_versions("INC-1")) == 1
