"""GitHub (REST API v3, github.com or GitHub Enterprise Server): commits, merged pull requests, deploys.

Config (`[connectors.<name>] type = "github"`), client (the shared HttpClient; `Link` pagination,
`per_page=100`; primary and secondary rate limits are waited out by the client) and adapters:

- commits of the window (`GET /repos/{o}/{r}/commits?since&until`), each with its files and line
  counts (`GET /repos/{o}/{r}/commits/{sha}`), its service from the repository's path globs, and the
  merged pull request that produced it (`GET /repos/{o}/{r}/pulls?state=closed&sort=updated`);
- deployments (`GET /repos/{o}/{r}/deployments` and each one's `/statuses`): a deploy happens when its
  `success` status was created, not at the deployment's `updated_at` (an `inactive` status posted when a
  later deployment replaces it moves `updated_at`, not the deploy); `failure`/`error` make it failed;
- published releases (`GET /repos/{o}/{r}/releases`) as deploys, unless a deployment carries their tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, field_validator
from requests.auth import AuthBase

from connectors.base import Collected, RawPayload, Window
from connectors.config import Duration, HttpConfig, SecretRef
from connectors.http import BearerAuth, HttpClient
from connectors.payload import parse_time, require_time
from connectors.registry import ConnectorType
from connectors.vcs import (
    ServiceMapping,
    check_unique,
    collect_commits,
    dig,
    in_window,
    is_sha,
    iso_z,
    json_items,
    merged_in_window,
    payload_error,
    reading,
    required_id,
)
from postmortem.model import Change, Commit

API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
PER_PAGE = 100
OUTCOMES = {"success": "succeeded", "failure": "failed", "error": "failed"}
"""Deployment status states that decide a deployment, and the deploy status they give."""

_REPO_RE = re.compile(r"^[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+$")


# ---------------------------------------------------------------- config


class GitHubRepo(ServiceMapping):
    """One repository (`[[connectors.<name>.repos]]`): `owner/name`, its service and path globs."""

    repo: str = Field(description="owner/name")

    @field_validator("repo")
    @classmethod
    def _owner_name(cls, repo: str) -> str:
        if not _REPO_RE.match(repo):
            raise ValueError(f"{repo!r} is not owner/name")
        return repo


class GitHubConfig(HttpConfig):
    """`type = "github"`: API URL, token, repositories and what to read from them."""

    url: str = Field("https://api.github.com", description="API base URL (Enterprise: https://HOST/api/v3)")
    token: SecretRef | None = Field(None, description="token (secret reference), sent as a Bearer token")
    repos: list[GitHubRepo] = Field(min_length=1, description="repositories ([[...repos]] tables)")
    commit_files: bool = Field(True, description="read each commit's files and line counts (1 request each)")
    pull_requests: bool = Field(True, description="attach merged pull requests to their commits")
    deployments: bool = Field(True, description="read deployments and their statuses")
    releases: bool = Field(True, description="published releases as deploys")
    environments: list[str] = Field(default_factory=list, description="only these deployment environments")
    release_environment: str | None = Field(None, description="environment written on release deploys")
    lookback: Duration = Field(
        timedelta(days=1), description="deployments/releases created this long before the window are read"
    )

    @field_validator("repos")
    @classmethod
    def _unique(cls, repos: list[GitHubRepo]) -> list[GitHubRepo]:
        check_unique((r.repo for r in repos), "repositories")
        return repos

    def auth(self) -> AuthBase | None:
        """Bearer token authentication when a token is configured."""
        return BearerAuth(self.token) if self.token is not None else None


# ---------------------------------------------------------------- adapters


def changed_files(detail: dict[str, Any]) -> list[str]:
    """Paths a commit touched, from `GET /commits/{sha}` (a rename counts its old path too)."""
    paths = (
        p for f in detail.get("files") or [] for p in (f.get("previous_filename"), f.get("filename")) if p
    )
    return list(dict.fromkeys(paths))


def to_commit(
    item: dict[str, Any],
    repo: GitHubRepo,
    where: str,
    files: list[str] | None = None,
    stats: dict[str, Any] | None = None,
) -> Commit:
    """A Commit from one item of the list-commits answer (files and stats from the single-commit one)."""
    sha = required_id(item, "sha", where)
    commit = item.get("commit") or {}
    ts = require_time(dig(commit, "committer.date"), f"{where} field 'commit.committer.date'")
    return Commit(
        sha=sha,
        ts=ts,
        author=dig(item, "author.login") or dig(commit, "author.name"),
        message=commit.get("message"),
        repo=repo.repo,
        additions=(stats or {}).get("additions"),
        deletions=(stats or {}).get("deletions"),
        url=item.get("html_url"),
        authored_at=parse_time(dig(commit, "author.date"), f"{where} field 'commit.author.date'"),
        **repo.commit_services(files),
    )


def pull_request_fields(pr: dict[str, Any]) -> dict[str, Any]:
    """The fields a merged pull request adds to its commit."""
    return {
        "pull_request": pr.get("number"),
        "pull_request_title": pr.get("title"),
        "pull_request_url": pr.get("html_url"),
    }


def pull_request_commit(pr: dict[str, Any], repo: GitHubRepo, merged: datetime, where: str) -> Commit:
    """A Commit for a merged pull request whose merge commit is not among the branch's commits."""
    sha = pr.get("merge_commit_sha")
    if not isinstance(sha, str) or not sha:
        raise ValueError(f"{where}: field 'merge_commit_sha' is missing on a merged pull request")
    return Commit(
        sha=sha,
        ts=merged,
        author=dig(pr, "user.login"),
        message=pr.get("title"),
        repo=repo.repo,
        service=repo.service,
        url=pr.get("html_url"),
        branch=dig(pr, "base.ref"),
        **pull_request_fields(pr),
    )


def deployment_outcome(
    statuses: list[dict[str, Any]], where: str
) -> tuple[str | None, datetime | None, dict[str, Any] | None]:
    """(status, deploy time, deciding status) of a deployment from its statuses.

    The first `success` gives the time; a `failure`/`error` after it makes the deploy failed (at the
    success time). Without a success the first `failure`/`error` decides. `inactive`, `pending`,
    `queued` and `in_progress` decide nothing; a deployment with only those is still undecided (None).
    """
    timed = [
        (require_time(s.get("created_at"), f"{where} status {s.get('id')} field 'created_at'"), s)
        for s in statuses
    ]
    timed.sort(key=lambda pair: (pair[0], pair[1].get("id") or 0))
    decisive = [(ts, s) for ts, s in timed if s.get("state") in OUTCOMES]
    first = next((i for i, (_, s) in enumerate(decisive) if s["state"] == "success"), None)
    if first is not None:
        failed_later = any(OUTCOMES[s["state"]] == "failed" for _, s in decisive[first + 1 :])
        return ("failed" if failed_later else "succeeded"), *decisive[first]
    if decisive:
        return "failed", decisive[0][0], decisive[0][1]
    return None, None, timed[-1][1] if timed else None


def to_deploy(item: dict[str, Any], statuses: list[dict[str, Any]], repo: GitHubRepo, where: str) -> Change:
    """A deploy Change from a deployment and its statuses (an undecided one is placed at its creation)."""
    created = require_time(item.get("created_at"), f"{where} field 'created_at'")
    status, ts, deciding = deployment_outcome(statuses, where)
    decided = deciding or {}
    ref, sha = item.get("ref"), item.get("sha")
    payload = item.get("payload") if isinstance(item.get("payload"), dict) else {}
    service = payload.get("service") if isinstance(payload.get("service"), str) else repo.service
    return Change(
        id=f"{repo.repo}/deployments/{item.get('id')}",
        ts=ts or created,
        service=service,
        version=ref if ref and ref != sha else None,
        sha=sha if is_sha(sha) else None,
        environment=item.get("environment"),
        status=status,
        kind="deploy",
        actor=dig(item, "creator.login"),
        url=decided.get("log_url") or decided.get("target_url") or decided.get("environment_url"),
        repo=repo.repo,
        state=decided.get("state"),
        task=item.get("task"),
        created_at=created,
    )


def to_release(item: dict[str, Any], repo: GitHubRepo, environment: str | None, where: str) -> Change | None:
    """A deploy Change for a published release (None for a draft)."""
    published = parse_time(item.get("published_at"), f"{where} field 'published_at'")
    if item.get("draft") or published is None:
        return None
    target = item.get("target_commitish")
    return Change(
        id=f"{repo.repo}/releases/{item.get('tag_name') or item.get('id')}",
        ts=published,
        service=repo.service,
        version=item.get("tag_name"),
        sha=target if is_sha(target) else None,
        environment=environment,
        status="succeeded",
        kind="deploy",
        actor=dig(item, "author.login"),
        url=item.get("html_url"),
        repo=repo.repo,
        release=item.get("name") or item.get("tag_name"),
        prerelease=bool(item.get("prerelease")),
    )


# ---------------------------------------------------------------- connector


class GitHubConnector:
    """Reads commits (capability `commits`) and deployments and releases (capability `deploys`)."""

    def __init__(self, config: GitHubConfig, name: str, client: HttpClient | None = None):
        self.name = name
        self.config = config
        self.client = client or config.client(
            name, auth=config.auth(), headers={**API_HEADERS, **config.headers}
        )

    def __repr__(self) -> str:
        return f"GitHubConnector(name={self.name!r}, client={self.client!r})"

    def _items(
        self, path: str, params: dict[str, Any], raw: list[RawPayload]
    ) -> Iterator[tuple[dict[str, Any], str]]:
        return json_items(self.client.paginate_link(path, {**params, "per_page": PER_PAGE}), raw)

    # ------------------------------------------------------------ commits

    def fetch_commits(self, window: Window) -> Collected:
        """Commits of every repository inside the window, with their files and pull requests."""
        attach = self.attach_pull_requests if self.config.pull_requests else None
        return collect_commits(self.config.repos, window, self.commits, attach)

    def commits(self, repo: GitHubRepo, window: Window, raw: list[RawPayload]) -> list[Commit]:
        """The repository's commits committed inside the window (its branch, else the default branch)."""
        params = {"since": iso_z(window.start), "until": iso_z(window.end)}
        if repo.branch:
            params["sha"] = repo.branch
        out = []
        for item, where in self._items(f"/repos/{repo.repo}/commits", params, raw):
            with reading(where):
                commit = to_commit(item, repo, where)
                if not in_window(commit.ts, window):
                    continue
                if self.config.commit_files:
                    files, stats = self.commit_detail(repo, commit.sha, raw)
                    commit = to_commit(item, repo, where, files, stats)
            out.append(commit)
        return out

    def commit_detail(
        self, repo: GitHubRepo, sha: str, raw: list[RawPayload]
    ) -> tuple[list[str], dict[str, Any]]:
        """Files (every page of a large commit) and line counts of one commit."""
        files: list[str] = []
        stats: dict[str, Any] = {}
        for body, payload in self.client.paginate_link(f"/repos/{repo.repo}/commits/{sha}"):
            raw.append(payload)
            if not isinstance(body, dict):
                raise payload_error(ValueError("expected a commit object"), f"GET {payload.uri}")
            stats = stats or body.get("stats") or {}
            files += changed_files(body)
        return list(dict.fromkeys(files)), stats

    def attach_pull_requests(
        self, repo: GitHubRepo, window: Window, commits: list[Commit], raw: list[RawPayload]
    ) -> list[Commit]:
        """Add merged pull requests to their merge commits; returns commits for PRs with none in the list.

        Pull requests are read most recently updated first until one was last updated before the window.
        Only those merged inside the window into the branch read count.
        """
        by_sha = {c.sha: c for c in commits}
        extra: list[Commit] = []
        params = {"state": "closed", "sort": "updated", "direction": "desc"}
        for pr, where in self._items(f"/repos/{repo.repo}/pulls", params, raw):
            with reading(where):
                if require_time(pr.get("updated_at"), f"{where} field 'updated_at'") < window.start:
                    break
                merged = merged_in_window(pr, where, window)
                if merged is None:
                    continue
                commit = by_sha.get(pr.get("merge_commit_sha") or "")
                if commit is not None:
                    for key, value in pull_request_fields(pr).items():
                        setattr(commit, key, value)
                elif dig(pr, "base.ref") == (repo.branch or dig(pr, "base.repo.default_branch")):
                    extra.append(pull_request_commit(pr, repo, merged, where))
        return extra

    # ------------------------------------------------------------ deploys

    def fetch_deploys(self, window: Window) -> Collected:
        """Deployments decided inside the window and releases published inside it, for every repository."""
        collected = Collected("deploys", [])
        for repo in self.config.repos:
            refs: set[str] = set()
            if self.config.deployments:
                collected.records.extend(self.deployments(repo, window, collected.raw, refs))
            if self.config.releases:
                collected.records.extend(self.releases(repo, window, collected.raw, refs))
        return collected

    def deployments(
        self, repo: GitHubRepo, window: Window, raw: list[RawPayload], refs: set[str]
    ) -> list[Change]:
        """Deployments whose deploy time is inside the window; `refs` gets every ref seen.

        Deployments come newest first; reading stops at the first one created more than `lookback`
        before the window. Statuses are read only for those created before the window's end.
        """
        cutoff = window.start - self.config.lookback
        wanted = set(self.config.environments)
        out = []
        for item, where in self._items(f"/repos/{repo.repo}/deployments", {}, raw):
            with reading(where):
                created = require_time(item.get("created_at"), f"{where} field 'created_at'")
                if created < cutoff:
                    break
                if isinstance(item.get("ref"), str):
                    refs.add(item["ref"])
                if created >= window.end or (wanted and item.get("environment") not in wanted):
                    continue
                statuses = [
                    s
                    for s, _ in self._items(
                        f"/repos/{repo.repo}/deployments/{item.get('id')}/statuses", {}, raw
                    )
                ]
                change = to_deploy(item, statuses, repo, where)
            if in_window(change.ts, window):
                out.append(change)
        return out

    def releases(
        self, repo: GitHubRepo, window: Window, raw: list[RawPayload], refs: set[str]
    ) -> list[Change]:
        """Releases published inside the window whose tag no deployment carries.

        Releases come newest first by `created_at` (GitHub: the date of the tagged commit); reading stops
        at the first one created more than `lookback` before the window.
        """
        cutoff = window.start - self.config.lookback
        out = []
        for item, where in self._items(f"/repos/{repo.repo}/releases", {}, raw):
            with reading(where):
                if require_time(item.get("created_at"), f"{where} field 'created_at'") < cutoff:
                    break
                change = to_release(item, repo, self.config.release_environment, where)
            if change is not None and change.version not in refs and in_window(change.ts, window):
                out.append(change)
        return out


CONNECTOR = ConnectorType(
    type="github",
    config=GitHubConfig,
    factory=GitHubConnector,
    capabilities=("commits", "deploys"),
    summary="GitHub REST v3: commits with files and merged PRs; deployments (success status time), releases",
)
