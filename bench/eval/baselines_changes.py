"""Naive change-attribution baselines, run on the same bundles as our change correlation.

- `last_deploy_rank`: Apache DevLake's rule for change failure rate: "incidents on a project will be
  related to the last deployment on the project with a timestamp that is before the incident's
  timestamp" (https://devlake.apache.org/docs/Plugins/webhook), with no time window and no service
  match; deployments count when successful and in production. We give it the incident's `started_at`
  (earlier, so fairer, than the ticket's creation); the ranked list continues with the deployments
  before it, most recent first.
- `nearest_change_rank`: every change record (deploys, rollbacks, config, flags, infra, migrations; the
  commits only when there is no deploy data), ranked by absolute distance in time to `started_at`.

Neither can say "no change": they always name a change when there is one.
"""

from __future__ import annotations

import pandas as pd

from connectors.bundle import Bundle

DEPLOY_KINDS = ("deploy", "rollback")
FAILED = "failed"
PRODUCTION = "production"


def _reference(bundle: Bundle) -> pd.Timestamp | None:
    """The incident's start, else its earliest milestone."""
    stamps = [t for t in bundle.incident.milestones().values() if t is not None]
    return pd.Timestamp(stamps[0]) if stamps else None


def last_deploy_rank(bundle: Bundle) -> list[str]:
    """Successful production deployments before the incident start, most recent first (DevLake)."""
    ref, deploys = _reference(bundle), bundle.frames["deploys"]
    if ref is None or deploys.empty:
        return []
    kind = deploys["kind"].fillna("deploy").str.lower()
    env = deploys["environment"].fillna(PRODUCTION).str.lower()
    status = deploys["status"].fillna("succeeded").str.lower()
    keep = kind.isin(DEPLOY_KINDS) & (env == PRODUCTION) & (status != FAILED) & (deploys["ts"] <= ref)
    return deploys[keep].sort_values("ts", ascending=False, kind="stable")["id"].astype(str).tolist()


def nearest_change_rank(bundle: Bundle) -> list[str]:
    """Every change record ranked by absolute time distance to the incident start."""
    ref, deploys = _reference(bundle), bundle.frames["deploys"]
    if ref is None:
        return []
    if deploys.empty:
        commits = bundle.frames["commits"]
        changes = pd.DataFrame({"id": commits["sha"].astype(str), "ts": commits["ts"]})
    else:
        changes = pd.DataFrame({"id": deploys["id"].astype(str), "ts": deploys["ts"]})
    distance = (changes["ts"] - ref).abs()
    return changes.assign(distance=distance).sort_values("distance", kind="stable")["id"].tolist()
