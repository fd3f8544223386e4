"""GitLab (REST API v4, gitlab.com or self-managed): commits, merged merge requests and deployments.

Config (`[connectors.<name>] type = "gitlab"`), client (the shared HttpClient with the `PRIVATE-TOKEN`
header; offset pagination driven by `x-next-page`, else the `page` of the `Link` rel="next" URL) and
adapters:

- commits of the window (`GET /projects/:id/repository/commits?since&until&with_stats=true`), their
  files (`GET .../commits/:sha/diff`) and services from the project's path globs, and the merged
  merge request behind each (`GET /projects/:id/merge_requests?state=merged&updated_after`);
- deployments (`GET /projects/:id/deployments?updated_after&updated_before&order_by=updated_at`): the
  deploy time is the deployable job's `finished_at` where present.

Project ids may be numbers or full paths (`group/sub/project`), URL-encoded in the request path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from pydantic import Field, field_validator
from requests.auth import AuthBase

from connectors.base import Collected, RawPayload, Window
from connectors.config import Duration, HttpConfig, SecretRef
from connectors.http import HeaderAuth, HttpClient
from connectors.http_errors import PageCapReached, PayloadError
from connectors.http_paging import Page
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
    reading,
    required_id,
)
from postmortem.model import Change, Commit

API_PREFIX = "/api/v4"
PER_PAGE = 100
STATUSES = {"success": "succeeded", "failed": "failed", "canceled": "failed"}
"""Finished deployment statuses and the deploy status they give (`created`, `running`, `blocked`: none)."""


# ---------------------------------------------------------------- config


class GitLabProject(ServiceMapping):
    """One project (`[[connectors.<name>.projects]]`): id or full path, its service and path globs."""

    project: str | int = Field(description="numeric id or full path (group/sub/project)")

    @field_validator("project")
    @classmethod
    def _not_blank(cls, project: str | int) -> str | int:
        if isinstance(project, str) and not project.strip("/ "):
            raise ValueError("the project id or path is empty")
        return project.strip("/") if isinstance(project, str) else project

    @property
    def encoded(self) -> str:
        """The id as it goes in a request path (`group%2Fproject`)."""
        return quote(str(self.project), safe="")

    @property
    def name(self) -> str:
        """The project as written on records (its path or id)."""
        return str(self.project)


class GitLabConfig(HttpConfig):
    """`type = "gitlab"`: instance URL, token, projects and what to read from them."""

    url: str = Field("https://gitlab.com", description="instance URL (the API is below /api/v4)")
    token: SecretRef | None = Field(
        None, description="access token (secret reference), sent as PRIVATE-TOKEN"
    )
    projects: list[GitLabProject] = Field(min_length=1, description="projects ([[...projects]] tables)")
    commit_files: bool = Field(True, description="read each commit's files (1+ request per commit)")
    merge_requests: bool = Field(True, description="attach merged merge requests to their commits")
    deployments: bool = Field(True, description="read deployments")
    environments: list[str] = Field(default_factory=list, description="only these deployment environments")
    update_margin: Duration = Field(
        timedelta(days=1), description="deployments updated this long after the window are read too"
    )

    @field_validator("projects")
    @classmethod
    def _unique(cls, projects: list[GitLabProject]) -> list[GitLabProject]:
        check_unique((p.name for p in projects), "projects")
        return projects

    def auth(self) -> AuthBase | None:
        """`PRIVATE-TOKEN` header authentication when a token is configured."""
        return HeaderAuth("PRIVATE-TOKEN", self.token) if self.token is not None else None


# ---------------------------------------------------------------- pagination


def next_page(headers: Mapping[str, str], links: Mapping[str, Mapping[str, str]]) -> str | None:
    """The next page number: `x-next-page` (empty on the last page), else the `page` of Link rel="next"."""
    if "x-next-page" in headers:
        return headers["x-next-page"].strip() or None
    url = links.get("next", {}).get("url")
    if not url:
        return None
    return parse_qs(urlsplit(url).query).get("page", [None])[0]


# ---------------------------------------------------------------- adapters


def diff_files(diffs: list[dict[str, Any]]) -> list[str]:
    """Paths a commit touched, from its diff (a rename counts its old path too)."""
    paths = (p for d in diffs for p in (d.get("old_path"), d.get("new_path")) if p)
    return list(dict.fromkeys(paths))


def to_commit(
    item: dict[str, Any], project: GitLabProject, where: str, files: list[str] | None = None
) -> Commit:
    """A Commit from one item of the list-commits answer (`with_stats=true`)."""
    sha = required_id(item, "id", where)
    stats = item.get("stats") or {}
    return Commit(
        sha=sha,
        ts=require_time(item.get("committed_date"), f"{where} field 'committed_date'"),
        author=item.get("author_name"),
        message=item.get("message"),
        repo=project.name,
        additions=stats.get("additions"),
        deletions=stats.get("deletions"),
        url=item.get("web_url"),
        authored_at=parse_time(item.get("authored_date"), f"{where} field 'authored_date'"),
        **project.commit_services(files),
    )


def merge_request_fields(mr: dict[str, Any]) -> dict[str, Any]:
    """The fields a merged merge request adds to its commit."""
    return {
        "merge_request": mr.get("iid"),
        "merge_request_title": mr.get("title"),
        "merge_request_url": mr.get("web_url"),
    }


def merge_request_shas(mr: dict[str, Any]) -> list[str]:
    """Commits a merged MR may have landed as: merge commit, squash commit, or its head (fast-forward)."""
    return [s for s in (mr.get("merge_commit_sha"), mr.get("squash_commit_sha"), mr.get("sha")) if s]


def merge_request_commit(mr: dict[str, Any], project: GitLabProject, merged: datetime, where: str) -> Commit:
    """A Commit for a merged MR whose commits are not among the branch's commits."""
    shas = merge_request_shas(mr)
    if not shas:
        raise ValueError(
            f"{where}: a merged merge request without merge_commit_sha, squash_commit_sha or sha"
        )
    return Commit(
        sha=shas[0],
        ts=merged,
        author=dig(mr, "author.username"),
        message=mr.get("title"),
        repo=project.name,
        service=project.service,
        url=mr.get("web_url"),
        branch=mr.get("target_branch"),
        **merge_request_fields(mr),
    )


def to_deploy(item: dict[str, Any], project: GitLabProject, where: str) -> Change:
    """A deploy Change from one deployment.

    A finished deployment (`success`, `failed`, `canceled`) is placed at its deployable job's
    `finished_at`, else the deployment's own `finished_at`, else its `updated_at`; an unfinished one
    (`created`, `running`, `blocked`) at its job's `started_at`, else its `created_at`, with no status.
    """
    state = item.get("status")
    job = item.get("deployable") if isinstance(item.get("deployable"), dict) else {}
    created = require_time(item.get("created_at"), f"{where} field 'created_at'")
    if state in STATUSES:
        ts = (
            parse_time(job.get("finished_at"), f"{where} field 'deployable.finished_at'")
            or parse_time(item.get("finished_at"), f"{where} field 'finished_at'")
            or require_time(item.get("updated_at"), f"{where} field 'updated_at'")
        )
    else:
        ts = parse_time(job.get("started_at"), f"{where} field 'deployable.started_at'") or created
    ref, sha = item.get("ref"), item.get("sha")
    return Change(
        id=f"{project.name}/deployments/{item.get('iid') or item.get('id')}",
        ts=ts,
        service=project.service,
        version=ref if ref and ref != sha else None,
        sha=sha if is_sha(sha) else None,
        environment=dig(item, "environment.name"),
        status=STATUSES.get(state),
        kind="deploy",
        actor=dig(item, "user.username"),
        url=job.get("web_url") or dig(job, "pipeline.web_url"),
        repo=project.name,
        state=state,
        created_at=created,
    )


# ---------------------------------------------------------------- connector


class GitLabConnector:
    """Reads commits (capability `commits`) and deployments (capability `deploys`)."""

    def __init__(self, config: GitLabConfig, name: str, client: HttpClient | None = None):
        self.name = name
        self.config = config
        self.client = client or config.client(name, auth=config.auth())
        self.api = "" if config.url.endswith(API_PREFIX) else API_PREFIX

    def __repr__(self) -> str:
        return f"GitLabConnector(name={self.name!r}, client={self.client!r})"

    def pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Page]:
        """Every page of a list endpoint (`per_page=100`), up to the client's `max_pages`."""
        query = {**(params or {}), "per_page": PER_PAGE}
        for _ in range(self.client.max_pages):
            body, raw, response = self.client.request_json("GET", path, params=query)
            yield body, raw
            page = next_page(response.headers, response.links)
            if page is None:
                return
            if page == str(query.get("page", 1)):
                raise PayloadError(
                    f"GET {raw.uri}: the next page is this page again", method="GET", url=raw.uri
                )
            query["page"] = page
        url = self.client.url(path)
        raise PageCapReached(
            f"{url}: stopped after max_pages={self.client.max_pages} pages while the server had more; "
            "narrow the window or raise max_pages",
            method="GET",
            url=url,
        )

    def _items(
        self, project: GitLabProject, path: str, params: Mapping[str, Any], raw: list[RawPayload]
    ) -> Iterator[tuple[dict[str, Any], str]]:
        return json_items(self.pages(f"{self.api}/projects/{project.encoded}{path}", params), raw)

    # ------------------------------------------------------------ commits

    def fetch_commits(self, window: Window) -> Collected:
        """Commits of every project inside the window, with their files and merge requests."""
        attach = self.attach_merge_requests if self.config.merge_requests else None
        return collect_commits(self.config.projects, window, self.commits, attach)

    def commits(self, project: GitLabProject, window: Window, raw: list[RawPayload]) -> list[Commit]:
        """The project's commits committed inside the window (its branch, else the default branch)."""
        params: dict[str, Any] = {
            "since": iso_z(window.start),
            "until": iso_z(window.end),
            "with_stats": "true",
        }
        if project.branch:
            params["ref_name"] = project.branch
        out = []
        for item, where in self._items(project, "/repository/commits", params, raw):
            with reading(where):
                commit = to_commit(item, project, where)
                if not in_window(commit.ts, window):
                    continue
                if self.config.commit_files:
                    diffs = self._items(project, f"/repository/commits/{commit.sha}/diff", {}, raw)
                    commit = to_commit(item, project, where, diff_files([d for d, _ in diffs]))
            out.append(commit)
        return out

    def default_branch(self, project: GitLabProject, raw: list[RawPayload]) -> str | None:
        """The project's default branch (`GET /projects/:id`)."""
        body, payload = self.client.get_json(f"{self.api}/projects/{project.encoded}")
        raw.append(payload)
        if not isinstance(body, dict):
            raise PayloadError(f"GET {payload.uri}: expected a project object", method="GET", url=payload.uri)
        return body.get("default_branch")

    def attach_merge_requests(
        self, project: GitLabProject, window: Window, commits: list[Commit], raw: list[RawPayload]
    ) -> list[Commit]:
        """Add MRs merged inside the window to their commits; returns commits for MRs with none listed.

        An MR whose commits are not in the list gets its own record when it targets the branch read.
        """
        by_sha = {c.sha: c for c in commits}
        extra: list[Commit] = []
        branch = project.branch
        params = {"state": "merged", "updated_after": iso_z(window.start)}
        for mr, where in self._items(project, "/merge_requests", params, raw):
            with reading(where):
                merged = merged_in_window(mr, where, window)
                if merged is None:
                    continue
                commit = next((by_sha[s] for s in merge_request_shas(mr) if s in by_sha), None)
                if commit is not None:
                    for key, value in merge_request_fields(mr).items():
                        setattr(commit, key, value)
                    continue
                branch = branch or self.default_branch(project, raw)
                if mr.get("target_branch") == branch:
                    extra.append(merge_request_commit(mr, project, merged, where))
        return extra

    # ------------------------------------------------------------ deploys

    def fetch_deploys(self, window: Window) -> Collected:
        """Deployments of every project whose deploy time is inside the window."""
        collected = Collected("deploys", [])
        if not self.config.deployments:
            return collected
        wanted = set(self.config.environments)
        params = {
            "updated_after": iso_z(window.start),
            "updated_before": iso_z(window.end + self.config.update_margin),
            "order_by": "updated_at",
            "sort": "asc",
        }
        for project in self.config.projects:
            for item, where in self._items(project, "/deployments", params, collected.raw):
                with reading(where):
                    change = to_deploy(item, project, where)
                if in_window(change.ts, window) and (not wanted or change.environment in wanted):
                    collected.records.append(change)
        return collected


CONNECTOR = ConnectorType(
    type="gitlab",
    config=GitLabConfig,
    factory=GitLabConnector,
    capabilities=("commits", "deploys"),
    summary="GitLab API v4: commits with files and merged MRs; deployments (job finished_at)",
)
