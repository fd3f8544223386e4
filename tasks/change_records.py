"""The change records behind change correlation: one frame of changes, and how each was later undone.

`changes_frame` puts deploys (any kind: deploy, rollback, config, feature_flag, infra, migration) and the
commits no deploy carries into one frame, column-wise. `reversals` links each change to the record that
undid it, strongest evidence first:

    rollback  a `rollback` record in the same service and environment (it undoes the last change before it)
    version   a later deploy that brings back the version running before the change, or that ships a
              lower semantic version than the deploy before it (an unmarked rollback)
    revert    a commit "This reverts commit <sha>" or 'Revert "<subject>"' (git's own messages)
    status    the change's status is rolled_back (when: the next deploy of its service, if any)
    corrective  the next change of the same service and kind after the onset (config revert, flag turned
              off, fix-forward deploy): weaker, it may also be an unrelated fix

and `superseded_by`, a later deploy of the same service and environment that went out before the onset.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

DEPLOY_FAMILY = ("deploy", "rollback")
CORRECTABLE = ("deploy", "config", "feature_flag", "infra", "migration")
LINKED = ("rollback", "version", "revert")  # reversals tied to the change itself
_RANK = {"rollback": 0, "version": 0, "revert": 0, "status": 1, "corrective": 2}
REVERTS_SHA = re.compile(r"This reverts commit ([0-9a-fA-F]{7,40})")
REVERT_SUBJECT = re.compile(r'^Revert "(.+)"\s*$')
SEMVER = r"^[vV]?(\d+)\.(\d+)\.(\d+)"


def text(frame: pd.DataFrame, name: str) -> pd.Series:
    """A text column (object dtype), stripped, with missing or empty values as NaN (all NaN when the frame
    lacks it)."""
    if name not in frame:
        return pd.Series(np.nan, index=frame.index, dtype=object)
    column = frame[name]
    if not pd.api.types.is_string_dtype(column.dtype):  # numbers or booleans given for a text field
        column = column.astype(str).where(column.notna())
    values = column.str.strip().to_numpy(dtype=object, na_value=np.nan)
    return pd.Series(np.where(values == "", np.nan, values), index=frame.index, dtype=object)


def number(frame: pd.DataFrame, name: str) -> pd.Series:
    """A non-negative numeric column (0 for missing values or a missing column)."""
    if name not in frame:
        return pd.Series(0.0, index=frame.index)
    return pd.to_numeric(frame[name], errors="coerce").fillna(0.0).clip(lower=0)


def _epoch_ns(values: pd.Series) -> np.ndarray:
    return pd.to_datetime(values, utc=True).dt.as_unit("ns").array.asi8


def _file_counts(commits: pd.DataFrame) -> pd.Series:
    """Number of files each commit touches (0 when not given as a list)."""
    files = commits.get("files")
    if files is None or files.dtype != object:
        return pd.Series(0.0, index=commits.index)
    return files.str.len().fillna(0.0).astype(float)


def sha_key_length(deploy_shas: pd.Series, commit_shas: pd.Series) -> int:
    """Prefix length on which deploy and commit shas are matched (shortest sha given, at least 7)."""
    lengths = pd.concat([deploy_shas.str.len(), commit_shas.str.len()]).dropna()
    return max(int(lengths.min()), 7) if len(lengths) else 40


def changes_frame(deploys: pd.DataFrame, commits: pd.DataFrame, known: set[str]) -> tuple[pd.DataFrame, int]:
    """One row per change: deploy records as given, plus the commits no deploy carries (kind "commit");
    and the sha prefix length deploys and commits are matched on. A commit without a service takes its
    repository's name when that names a service in `known` or in the deploys."""
    d = {
        name: text(deploys, name)
        for name in ("id", "kind", "service", "status", "environment", "version", "sha")
    }
    c = {name: text(commits, name) for name in ("sha", "repo", "service", "message")}
    key_len = sha_key_length(d["sha"], c["sha"])
    c_sha = c["sha"].str.lower()
    c_key = c_sha.str[:key_len]
    lines = number(commits, "additions") + number(commits, "deletions")
    files = _file_counts(commits)
    sizes = pd.DataFrame({"lines": lines.to_numpy(), "files": files.to_numpy()}, index=c_key.to_numpy())
    sizes = sizes[sizes.index.notna() & ~sizes.index.duplicated()]

    d_key = d["sha"].str.lower().str[:key_len]
    fanout = d["service"].groupby(d_key).nunique()
    dep = pd.DataFrame(
        {
            "id": d["id"].fillna("?"),
            "kind": d["kind"].str.lower().fillna("deploy"),
            "service": d["service"],
            "ts": _epoch_ns(deploys["ts"]),
            "status": d["status"].str.lower(),
            "environment": d["environment"],
            "version": d["version"],
            "sha_key": d_key,
            "label": d["version"].fillna(d["sha"].str[:8]),
            "lines": d_key.map(sizes["lines"]).fillna(0.0).to_numpy(),
            "files": d_key.map(sizes["files"]).fillna(0.0).to_numpy(),
            "fanout": d_key.map(fanout).fillna(1.0).to_numpy(),
            "source": "deploy",
            "service_deploys_known": True,
        }
    )

    undeployed = (~c_key.isin(set(d_key.dropna())) | c_key.isna()).to_numpy()
    deployed_services = set(d["service"].str.lower().dropna())
    known = known | deployed_services
    repo_service = c["repo"][undeployed].str.rsplit("/", n=1).str[-1]
    c_service = c["service"][undeployed].fillna(repo_service.where(repo_service.str.lower().isin(known)))
    first_line = c["message"][undeployed].str.split("\n", n=1).str[0].str.slice(0, 60)
    com = pd.DataFrame(
        {
            "id": c_sha[undeployed],
            "kind": "commit",
            "service": c_service,
            "ts": _epoch_ns(commits["ts"][undeployed]),
            "status": np.nan,
            "environment": np.nan,
            "version": np.nan,
            "sha_key": c_key[undeployed],
            "label": c_sha[undeployed].str[:8] + (" (" + first_line + ")").fillna(""),
            "lines": lines[undeployed],
            "files": files[undeployed],
            "fanout": 1.0,
            "source": "commit",
            "service_deploys_known": c_service.str.lower().isin(deployed_services),
        }
    ).astype({"status": object, "environment": object, "version": object})
    frame = pd.concat([dep, com], ignore_index=True) if len(com) else dep.reset_index(drop=True)
    types = {"lines": float, "files": float, "fanout": float, "service_deploys_known": bool}
    return frame.astype(types), key_len


def _lanes(frame: pd.DataFrame) -> pd.DataFrame:
    """Deploys and rollbacks with a service, by lane (service and environment) then time."""
    fam = frame[frame["kind"].isin(DEPLOY_FAMILY) & frame["service"].notna()]
    lane = fam["service"].str.lower() + "\x00" + fam["environment"].fillna("").str.lower()
    return fam.assign(lane=lane).sort_values(["lane", "ts"], kind="stable")


def _events(target: pd.Series, ids: pd.Series, ts: pd.Series, how: str) -> pd.DataFrame:
    return pd.DataFrame({"target": target, "event_id": ids, "event_ts": ts, "how": how}).dropna(
        subset=["target"]
    )


_NO_EVENTS = pd.DataFrame({"target": [], "event_id": [], "event_ts": [], "how": []})


def _semver_key(version: pd.Series) -> pd.Series:
    """A sortable number for versions shaped like [v]MAJOR.MINOR.PATCH (NaN for any other shape)."""
    parts = version.str.extract(SEMVER).astype(float)
    return parts[0] * 1e12 + parts[1] * 1e6 + parts[2]


def _version_events(fam: pd.DataFrame) -> pd.DataFrame:
    """Deploys that bring back the version running before an earlier deploy of their lane, or that ship a
    lower semantic version than the deploy before them (an unmarked rollback of that deploy)."""
    by_lane = fam.groupby("lane", sort=False)
    prev_version = by_lane["version"].shift(1)
    changed = fam[prev_version.notna() & fam["version"].notna() & (prev_version != fam["version"])]
    before = pd.DataFrame(
        {"lane": changed["lane"], "version": prev_version[changed.index], "target": changed["id"]}
    ).assign(target_ts=changed["ts"])
    later = fam[["lane", "version", "id", "ts"]].dropna(subset=["version"])
    pairs = before.merge(later, on=["lane", "version"])
    pairs = pairs[pairs["ts"] > pairs["target_ts"]].sort_values("ts").drop_duplicates("target")
    restored = _events(pairs["target"], pairs["id"], pairs["ts"], "version")
    key = _semver_key(fam["version"])
    lower = key < key.groupby(fam["lane"]).shift(1)
    downgrade = _events(by_lane["id"].shift(1)[lower], fam["id"][lower], fam["ts"][lower], "version")
    return pd.concat([restored, downgrade], ignore_index=True).drop_duplicates("target")


def _revert_events(frame: pd.DataFrame, commits: pd.DataFrame, key_len: int) -> pd.DataFrame:
    """Revert commits ("This reverts commit <sha>", 'Revert "<subject>"') and the change they undo."""
    message = text(commits, "message")
    if not message.str.contains("revert", case=False, regex=False).any():
        return _NO_EVENTS
    sha = message.str.extract(REVERTS_SHA, expand=False).str.lower().str[:key_len]
    subject = message.str.split("\n", n=1).str[0]
    reverted_subject = subject.str.extract(REVERT_SUBJECT, expand=False)
    by_subject = pd.Series(
        text(commits, "sha").str.lower().str[:key_len].to_numpy(), index=subject.to_numpy()
    )
    by_subject = by_subject[~by_subject.index.duplicated()]
    target_key = sha.fillna(reverted_subject.map(by_subject))
    reverts = pd.DataFrame(
        {
            "target_key": target_key,
            "revert_key": text(commits, "sha").str.lower().str[:key_len],
            "ts": _epoch_ns(commits["ts"]),
        }
    ).dropna(subset=["target_key"])
    if reverts.empty:
        return _NO_EVENTS
    keyed = frame[["id", "sha_key", "ts"]].dropna(subset=["sha_key"])
    # the revert takes effect when a deploy carries it, else when it is committed
    shipped = keyed.groupby("sha_key")["ts"].min()
    reverts["ts"] = reverts["revert_key"].map(shipped).fillna(reverts["ts"])
    pairs = keyed.merge(reverts, left_on="sha_key", right_on="target_key", suffixes=("", "_revert"))
    return _events(pairs["id"], pairs["revert_key"], pairs["ts_revert"], "revert")


def _status_events(fam: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Changes whose status says rolled_back: the next deploy of their lane (if any) undid them."""
    rolled = frame[frame["status"].eq("rolled_back")]
    if rolled.empty:
        return _NO_EVENTS
    next_id = fam.groupby("lane", sort=False)["id"].shift(-1)
    next_ts = fam.groupby("lane", sort=False)["ts"].shift(-1)
    nxt = pd.DataFrame({"event_id": next_id, "event_ts": next_ts}, index=fam.index)
    return _events(
        rolled["id"], nxt["event_id"].reindex(rolled.index), nxt["event_ts"].reindex(rolled.index), "status"
    )


def _corrective_events(frame: pd.DataFrame, onset_ns: int, mitigation_ns: int | None) -> pd.DataFrame:
    """The change of the same service and kind after the onset nearest the mitigation, per earlier change."""
    eligible = frame[frame["kind"].isin(CORRECTABLE) & frame["service"].notna()]
    key = eligible["service"].str.lower() + "\x00" + eligible["kind"]
    before = pd.DataFrame({"key": key, "target": eligible["id"], "target_ts": eligible["ts"]})
    before = before[before["target_ts"] < onset_ns]
    after = pd.DataFrame({"key": key, "event_id": eligible["id"], "event_ts": eligible["ts"]})
    after = after[after["event_ts"] >= onset_ns]
    if before.empty or after.empty:
        return _NO_EVENTS
    gap = (after["event_ts"] - (mitigation_ns if mitigation_ns is not None else onset_ns)).abs()
    after = after.assign(gap=gap).sort_values(["gap", "event_ts"]).drop_duplicates("key")
    pairs = before.merge(after, on="key")
    return _events(pairs["target"], pairs["event_id"], pairs["event_ts"], "corrective")


def reversals(
    frame: pd.DataFrame,
    commits: pd.DataFrame,
    onset_ns: int,
    mitigation_ns: int | None,
    key_len: int,
) -> pd.DataFrame:
    """Per change: what undid it (`reversal_id`, `reversal_ts`, `reversal_how`), which change a rollback
    record undoes (`rolls_back`) and the deploy that superseded it before the onset (`superseded_by`)."""
    out = pd.DataFrame(
        {"reversal_id": np.nan, "reversal_ts": np.nan, "reversal_how": np.nan, "rolls_back": np.nan},
        index=frame.index,
    ).astype({"reversal_id": object, "reversal_how": object, "rolls_back": object})
    out["superseded_by"] = pd.Series(np.nan, index=frame.index, dtype=object)
    fam = _lanes(frame)
    events = [_revert_events(frame, commits, key_len), _corrective_events(frame, onset_ns, mitigation_ns)]
    if not fam.empty:
        is_rb = fam["kind"] == "rollback"
        target = fam["id"].where(~is_rb).groupby(fam["lane"]).ffill().where(is_rb)
        versions = _version_events(fam)
        out.loc[target.dropna().index, "rolls_back"] = target.dropna()
        restorer = pd.Series(versions["target"].to_numpy(), index=versions["event_id"].to_numpy())
        restorer = restorer[~restorer.index.duplicated()]
        restores = fam["id"].map(restorer)
        out.loc[fam.index, "rolls_back"] = out.loc[fam.index, "rolls_back"].fillna(restores)
        next_ts = fam.groupby("lane", sort=False)["ts"].shift(-1)
        next_id = fam.groupby("lane", sort=False)["id"].shift(-1)
        superseded = next_ts.notna() & (next_ts < onset_ns)
        out.loc[fam.index[superseded.to_numpy()], "superseded_by"] = next_id[superseded]
        events += [_events(target, fam["id"], fam["ts"], "rollback"), versions, _status_events(fam, frame)]
    events = [e for e in events if not e.empty]
    if not events:
        return out
    all_events = pd.concat(events, ignore_index=True)
    all_events["rank"] = all_events["how"].map(_RANK)
    reference = mitigation_ns if mitigation_ns is not None else onset_ns
    all_events["gap"] = (all_events["event_ts"].astype(float) - reference).abs().fillna(np.inf)
    all_events = all_events.sort_values(["rank", "gap"], kind="stable").drop_duplicates("target")
    row_of = pd.Series(frame.index, index=frame["id"].to_numpy())
    row_of = row_of[~row_of.index.duplicated()]
    rows = row_of.reindex(all_events["target"].to_numpy()).to_numpy()
    keep = ~pd.isna(rows)
    rows = rows[keep].astype(int)
    out.loc[rows, "reversal_id"] = all_events["event_id"].to_numpy()[keep]
    out.loc[rows, "reversal_ts"] = all_events["event_ts"].to_numpy(dtype=float)[keep]
    out.loc[rows, "reversal_how"] = all_events["how"].to_numpy()[keep]
    return out
