"""Changes (deploys, rollbacks, config, flags, infra, migrations) and the commits behind them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from postmortem.generator.noise import hex_list
from postmortem.generator.story import Story, minutes, version_text
from postmortem.generator.variation import NO_VARIATION, Variation, decoy_changes, perturb_records
from postmortem.generator.vocab import (
    BOTS,
    COMMIT_AREAS,
    COMMIT_DEPS,
    COMMIT_SUBJECTS,
    COMMIT_THINGS,
    CONFIG_KEYS,
    FILE_DIRS,
    FILE_NAMES,
    FLAGS,
    INFRA_CHANGES,
    PEOPLE,
)

ID_PREFIX = {
    "deploy": "dpl",
    "rollback": "rbk",
    "config": "cfg",
    "feature_flag": "flg",
    "infra": "inf",
    "migration": "mig",
}
BACKGROUND_KINDS = ("deploy", "config", "feature_flag", "infra", "migration", "rollback")
BACKGROUND_P = (0.62, 0.12, 0.1, 0.09, 0.04, 0.03)


@dataclass
class ChangeMarks:
    """Ids of the changes that matter to the ground truth."""

    culprit: str | None = None
    mitigation: str | None = None
    decoys: list[str] = field(default_factory=list)
    culprit_commits: list[str] = field(default_factory=list)


def iso(ts: datetime) -> str:
    """UTC timestamp as ISO 8601 with a Z, whole seconds."""
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _url(story: Story, kind: str, service: str, change_id: str) -> str:
    org = story.org
    if kind in ("deploy", "rollback"):
        return f"https://argo.{org}.example.com/applications/{service}/history/{change_id}"
    if kind == "feature_flag":
        return f"https://flags.{org}.example.com/audit/{change_id}"
    if kind == "infra":
        return f"https://terraform.{org}.example.com/runs/{change_id}"
    if kind == "migration":
        return f"https://ci.{org}.example.com/{service}/migrations/{change_id}"
    return f"https://config.{org}.example.com/{service}/changes/{change_id}"


def build_changes(
    rng: np.random.Generator,
    story: Story,
    count: int | None,
    commit_count: int | None,
    variation: Variation = NO_VARIATION,
    vary_rng: np.random.Generator | None = None,
) -> tuple[list[dict], list[dict], ChangeMarks]:
    """Deploy records and commit records, sorted by time, with the ids the ground truth needs.

    The changes that matter (culprit, mitigation, decoy) come from their own random stream, so they do
    not depend on how many background changes and commits are asked for. The variation's extra decoys
    come from `vary_rng`.
    """
    key_rng, noise_rng = rng.spawn(2)
    count = int(noise_rng.integers(40, 90)) if count is None else count
    commit_count = int(noise_rng.integers(150, 400)) if commit_count is None else commit_count
    marks = ChangeMarks()
    special = _special_changes(key_rng, story, marks, variation)
    ids = hex_list(key_rng, len(special), 8)
    if variation.extra_decoys and vary_rng is not None:
        extra = decoy_changes(vary_rng, story, variation.extra_decoys)
        special += extra
        ids += hex_list(vary_rng, len(extra), 8, ids)
    for rec, hex_id in zip(special, ids, strict=True):
        rec["id"] = f"{ID_PREFIX[rec['kind']]}-{hex_id}"
    for rec in special:
        role = rec.pop("_role")
        if role == "culprit":
            marks.culprit = rec["id"]
        elif role == "mitigation":
            marks.mitigation = rec["id"]
        else:
            marks.decoys.append(rec["id"])
    story.ctx["change_id"] = marks.culprit or ""
    story.ctx["mitigation_id"] = marks.mitigation or ""
    story.ctx["decoy_id"] = marks.decoys[0] if marks.decoys else ""
    n_background = max(0, count - len(special))
    background = _background_changes(
        noise_rng, story, n_background, hex_list(noise_rng, n_background, 8, ids)
    )
    changes = sorted(special + background, key=lambda r: (r["ts"], r["id"]))
    _assign_versions(story, changes)
    for rec in special:
        rec["description"] = story.fmt(rec["description"])
    special_commits = _culprit_commits(key_rng, story, changes, marks)[:commit_count]
    commits = _commits(noise_rng, story, commit_count, changes, marks, special_commits)
    changes = perturb_records(changes, story, variation, marks.mitigation)
    for rec in changes:
        rec.pop("_reverts", None)
        rec["ts"] = iso(rec["ts"])
    return changes, commits, marks


def _mitigation_kind(story: Story, variation: Variation) -> tuple[str, str]:
    """Kind and text of the mitigating change, as the variation asks it to be recorded."""
    sc = story.scenario
    if variation.mitigation_record == "fix_forward" and sc.change_kind:
        return "deploy", "fix forward: release with a fix for {root}"
    if variation.mitigation_record == "deploy" and sc.mitigation_kind == "rollback":
        return "deploy", "redeploy {prev_version} of {root}"
    return sc.mitigation_kind, sc.mitigation_text


def _special_changes(
    rng: np.random.Generator, story: Story, marks: ChangeMarks, variation: Variation
) -> list[dict]:
    """The culprit (if any), the mitigating change and the red-herring deploy near the onset."""
    sc, root = story.scenario, story.root
    out = []
    if sc.change_kind and story.change_ts is not None:
        out.append(
            {
                "_role": "culprit",
                "ts": story.change_ts,
                "service": root,
                "kind": sc.change_kind,
                "status": variation.culprit_status or sc.culprit_status,
                "actor": story.people["owner"],
                "description": sc.culprit_text,
            }
        )
    mitigation_service = story.ctx["caller"] if sc.culprit_kind == "dependency" else root
    mitigation_kind, mitigation_text = _mitigation_kind(story, variation)
    out.append(
        {
            "_role": "mitigation",
            "ts": story.mitigated - minutes(rng, 0.3, 2.0),
            "service": mitigation_service,
            "kind": mitigation_kind,
            "status": "succeeded",
            "actor": story.people["owner"],
            "description": mitigation_text,
            "_reverts": variation.mitigation_record == "deploy" and mitigation_kind != sc.mitigation_kind,
        }
    )
    if story.decoy_ts is not None:
        out.append(
            {
                "_role": "decoy",
                "ts": story.decoy_ts,
                "service": story.decoy_service,
                "kind": "deploy",
                "status": "succeeded",
                "actor": story.people["extra0"],
                "description": "release {decoy_version}",
            }
        )
    for rec in out:
        rec["environment"] = "production"
    return out


def _background_changes(rng: np.random.Generator, story: Story, count: int, ids: list[str]) -> list[dict]:
    """Everyday changes across the window; production changes to the root stay hours before the onset."""
    graph = story.graph
    apps = graph.of_kind("edge", "gateway", "app")
    stores = graph.of_kind("db", "cache")
    dbs = graph.of_kind("db")
    start, end = story.window_start.timestamp(), story.window_end.timestamp()
    quiet_from = (story.onset - timedelta(hours=3)).timestamp()
    kinds = rng.choice(len(BACKGROUND_KINDS), size=count, p=BACKGROUND_P)
    times = start + (end - start) * rng.random(count)
    staging = rng.random(count) < 0.06
    out = []
    for i in range(count):
        kind = BACKGROUND_KINDS[kinds[i]]
        if kind == "migration" and not dbs:
            kind = "deploy"
        pool = dbs if kind == "migration" else apps
        if kind == "infra" and rng.random() < 0.4 and stores:
            pool = stores
        if not staging[i] and times[i] >= quiet_from:
            pool = [s for s in pool if s != story.root] or [s for s in apps if s != story.root]
        service = pool[int(rng.integers(len(pool)))]
        status = rng.choice(["succeeded", "failed", "rolled_back"], p=[0.9, 0.07, 0.03])
        if kind == "rollback":
            status = "succeeded"
        out.append(
            {
                "id": f"{ID_PREFIX[kind]}-{ids[i]}",
                "ts": datetime.fromtimestamp(round(times[i]), tz=story.onset.tzinfo),
                "service": service,
                "kind": kind,
                "status": str(status),
                "environment": "staging" if staging[i] else "production",
                "actor": _actor(rng, kind),
                "description": _background_text(rng, kind, service),
            }
        )
    return out


def _actor(rng: np.random.Generator, kind: str) -> str:
    if kind in ("deploy", "infra") and rng.random() < 0.5:
        return BOTS[int(rng.integers(len(BOTS)))]
    return PEOPLE[int(rng.integers(len(PEOPLE)))]


def _background_text(rng: np.random.Generator, kind: str, service: str) -> str:
    n, m = int(rng.integers(1, 40)), int(rng.integers(2, 30))
    if kind == "config":
        key, old, new = CONFIG_KEYS[int(rng.integers(len(CONFIG_KEYS)))].split("|")
        return f"{key}: {old} -> {new}"
    if kind == "feature_flag":
        pct = int(rng.choice([5, 10, 25, 50, 100]))
        return f"{FLAGS[int(rng.integers(len(FLAGS)))]}: 0% -> {pct}%"
    if kind == "infra":
        return INFRA_CHANGES[int(rng.integers(len(INFRA_CHANGES)))].format(svc=service, n=n, m=m)
    if kind == "migration":
        return f"V{n + 50}__add_index_{service.replace('-', '_')}_{m}"
    if kind == "rollback":
        return f"rollback {service} to previous release"
    return f"release with {n} commits"


def _assign_versions(story: Story, changes: list[dict]) -> None:
    """Give deploys and rollbacks increasing versions per service; the story's versions follow them."""
    ctx = story.ctx
    current = dict(story.versions)
    shipped: dict[str, str] = {}
    for rec in changes:
        service, kind = rec["service"], rec["kind"]
        major, minor, patch = current[service]
        if kind == "deploy" and rec["id"] in (ctx["change_id"], ctx["decoy_id"]):
            role = "culprit" if rec["id"] == ctx["change_id"] else "decoy"
            ctx["prev_version" if role == "culprit" else "decoy_prev_version"] = version_text(
                current[service]
            )
            current[service] = (major, minor + 1, 0)
            shipped[role] = version_text(current[service])
        elif rec.get("_reverts") and "culprit" in shipped:  # a rollback recorded as a plain deploy
            current[service] = tuple(int(x) for x in ctx["prev_version"][1:].split("."))  # type: ignore[assignment]
        elif kind == "deploy":
            current[service] = (major, minor, patch + 1)
        elif kind == "rollback" and rec["id"] == ctx["mitigation_id"] and "culprit" in shipped:
            current[service] = tuple(int(x) for x in ctx["prev_version"][1:].split("."))  # type: ignore[assignment]
        elif kind == "rollback":
            current[service] = (major, minor, max(0, patch - 1))
        rec["version"] = version_text(current[service]) if kind in ("deploy", "rollback") else None
        if kind == "migration":
            rec["version"] = ctx["migration"] if rec["id"] == ctx["change_id"] else rec["description"]
    ctx["version"] = shipped.get("culprit", ctx["version"])
    ctx["decoy_version"] = shipped.get("decoy", ctx["decoy_version"])


def _commits(
    rng: np.random.Generator,
    story: Story,
    count: int,
    changes: list[dict],
    marks: ChangeMarks,
    special: list[dict],
) -> list[dict]:
    """Commits across the service repos; every deploy points at the last commit before it."""
    graph = story.graph
    repos = graph.of_kind("edge", "gateway", "app")
    n = max(0, count - len(special))
    shas = hex_list(rng, n + len(changes), 40, [c["sha"] for c in special])
    start, end = story.window_start.timestamp(), story.window_end.timestamp()
    times = np.sort(start + (end - start) * rng.random(n))
    services = rng.choice(len(repos), size=n)
    out = []
    for i in range(n):
        service = repos[int(services[i])]
        out.append(
            _commit(rng, story, service, shas[i], datetime.fromtimestamp(round(times[i]), story.onset.tzinfo))
        )
    commits = sorted(out + special, key=lambda c: (c["ts"], c["sha"]))
    spare = iter(shas[n:])
    by_service: dict[str, list[dict]] = {}
    for c in commits:
        by_service.setdefault(c["service"], []).append(c)
    culprit_sha = marks.culprit_commits[-1] if marks.culprit_commits else None
    for rec in changes:
        if rec["kind"] not in ("deploy", "rollback"):
            rec["sha"] = culprit_sha if rec["id"] == marks.culprit else None
        elif rec["id"] == marks.culprit and culprit_sha:
            rec["sha"] = culprit_sha
        else:
            earlier = [c for c in by_service.get(rec["service"], []) if c["ts"] < rec["ts"]]
            forward = rec["kind"] == "deploy" and not rec.get("_reverts")
            rec["sha"] = earlier[-1]["sha"] if earlier and forward else next(spare)
        rec["url"] = _url(story, rec["kind"], rec["service"], rec["id"])
    for c in commits:
        c["ts"] = iso(c["ts"])
    return commits


def _commit(rng: np.random.Generator, story: Story, service: str, sha: str, ts: datetime, **fixed) -> dict:
    """One commit record with plausible files and line counts."""
    subject = COMMIT_SUBJECTS[int(rng.integers(len(COMMIT_SUBJECTS)))].format(
        svc=service,
        thing=COMMIT_THINGS[int(rng.integers(len(COMMIT_THINGS)))],
        area=COMMIT_AREAS[int(rng.integers(len(COMMIT_AREAS)))],
        dep=COMMIT_DEPS[int(rng.integers(len(COMMIT_DEPS)))],
        ver=f"{int(rng.integers(1, 9))}.{int(rng.integers(0, 30))}.{int(rng.integers(0, 9))}",
    )
    files = sorted(
        {
            f"{FILE_DIRS[int(rng.integers(len(FILE_DIRS)))].format(svc=service.replace('-', '_'))}/"
            f"{FILE_NAMES[int(rng.integers(len(FILE_NAMES)))]}"
            for _ in range(int(rng.integers(1, 7)))
        }
    )
    owner = story.graph.callers(service)[0] if story.graph.kinds[service] == "db" else service
    record = {
        "sha": sha,
        "ts": ts,
        "author": PEOPLE[int(rng.integers(len(PEOPLE)))],
        "message": subject,
        "repo": f"{story.org}/{owner}",
        "service": service,
        "files": files,
        "additions": int(rng.lognormal(3.0, 1.2)),
        "deletions": int(rng.lognormal(2.3, 1.2)),
    }
    record.update(fixed)
    return record


def _culprit_commits(
    rng: np.random.Generator, story: Story, changes: list[dict], marks: ChangeMarks
) -> list[dict]:
    """The commits that shipped in the culprit change (none for flags and no-change scenarios)."""
    culprit = next((c for c in changes if c["id"] == marks.culprit), None)
    if culprit is None or culprit["kind"] == "feature_flag":
        return []
    root, ctx = story.root, story.ctx
    owner = story.people["owner"]
    n = int(rng.integers(2, 5)) if culprit["kind"] == "deploy" else 1
    shas = hex_list(rng, n, 40)
    offsets = sorted((minutes(rng, 10, 180) for _ in range(n)), reverse=True)
    commits = []
    for i, (sha, offset) in enumerate(zip(shas, offsets, strict=True)):
        ts = culprit["ts"] - offset
        if culprit["kind"] == "migration":
            fixed = {
                "message": f"Add migration {ctx['migration']}",
                "files": [f"migrations/{ctx['migration']}.sql"],
                "author": owner,
            }
        elif culprit["kind"] == "config":
            fixed = {
                "message": f"{root}: set {ctx['config_key']} to {ctx['new_value']}",
                "files": [f"services/{root}/production.yaml"],
                "repo": f"{story.org}/config",
                "author": owner,
                "additions": 1,
                "deletions": 1,
            }
        elif culprit["kind"] == "infra":
            fixed = {
                "message": f"{root}: {ctx['infra_change']}",
                "files": [f"terraform/services/{root}/main.tf"],
                "repo": f"{story.org}/infrastructure",
                "author": owner,
            }
        elif i == n - 1:
            fixed = {"message": ctx["commit_subject"], "author": owner}
        else:
            fixed = {"author": owner}
        commits.append(_commit(rng, story, root, sha, ts, **fixed))
    marks.culprit_commits = [c["sha"] for c in commits]
    return commits
