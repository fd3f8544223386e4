"""Collection check: which configured sources failed when the evidence was collected (`manifest.json`)."""

from __future__ import annotations

import json
from pathlib import Path

from postmortem.model import QualityResult
from tasks.quality.policy import Policy
from tasks.quality.results import computed

COLLECTION = "collection"
COLLECTION_CHECKS: dict[str, tuple[str, str]] = {
    "sources_answered": (
        "warn",
        "every configured connector answered when the evidence was collected (manifest.json)",
    ),
}


def collection_checks(bundle_path: Path | None, policy: Policy) -> list[QualityResult]:
    """One result from the bundle's collection manifest; none for a bundle that was not collected."""
    manifest_file = bundle_path / "manifest.json" if bundle_path is not None else None
    if manifest_file is None or not manifest_file.is_file():
        return []
    sources = json.loads(manifest_file.read_text()).get("sources", [])
    failed = [s for s in sources if s.get("status") != "ok"]
    examples = [
        {
            "source": s.get("source"),
            "type": s.get("type"),
            "dataset": s.get("capability"),
            "error": s.get("error"),
        }
        for s in failed
    ]
    missing = ", ".join(f"{e['dataset'] or 'all'} from {e['source']} ({e['type']})" for e in examples)
    check = "sources_answered"
    return [
        computed(
            COLLECTION,
            check,
            policy.severity(COLLECTION, check),
            COLLECTION_CHECKS[check][1],
            len(failed),
            examples,
            len(sources),
            summary=f"missing evidence: {missing}" if failed else None,
        )
    ]
