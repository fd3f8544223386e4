"""Pieces the GitHub, GitLab and Argo CD connectors share: repository -> service mapping, vendor times.

A repository has a default service; in a monorepo, path globs map the files a commit touches to
services, configured as the git connector does: `services = { payments = ["services/payments/**"] }`
(gitignore syntax, as in CODEOWNERS; a `!` line excludes). A file may belong to several services. A
commit's services are those owning at least one of its files, most files first (ties keep the
configured order); its service is the first of them, else the repository's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import pathspec
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from connectors.base import Collected, RawPayload, Window
from connectors.http_errors import PayloadError
from connectors.http_paging import Page
from connectors.payload import parse_time
from postmortem.model import Commit

_SHA_RE = re.compile(r"^[0-9a-fA-F]{40}$|^[0-9a-fA-F]{64}$")


class ServiceMapping(BaseModel):
    """A repository's default service, branch, and path globs per service (monorepos)."""

    model_config = ConfigDict(extra="forbid")

    service: str | None = Field(None, description="service of the repository's commits and deploys")
    branch: str | None = Field(
        None, description="branch whose commits are read (default: the default branch)"
    )
    services: dict[str, list[str]] = Field(
        default_factory=dict, description='service -> path globs, e.g. payments = ["services/payments/**"]'
    )
    _specs: list[tuple[str, pathspec.PathSpec]] = PrivateAttr(default_factory=list)

    @field_validator("services")
    @classmethod
    def _globs(cls, services: dict[str, list[str]]) -> dict[str, list[str]]:
        for service, globs in services.items():
            if not service or not globs or not all(g.strip() for g in globs):
                raise ValueError(f"service {service!r}: give a non-empty list of non-empty path globs")
            try:
                pathspec.PathSpec.from_lines("gitignore", globs)
            except ValueError as exc:
                raise ValueError(f"service {service!r}: bad path glob: {exc}") from None
        return services

    def model_post_init(self, context: Any) -> None:
        """Compile the globs once."""
        self._specs = [(s, pathspec.PathSpec.from_lines("gitignore", g)) for s, g in self.services.items()]

    def services_of(self, files: Iterable[str]) -> list[str]:
        """Services owning at least one of the files, most files first (ties in configured order)."""
        paths = list(dict.fromkeys(files))
        counts = [(sum(map(spec.match_file, paths)), i, s) for i, (s, spec) in enumerate(self._specs)]
        return [s for n, _, s in sorted(counts, key=lambda c: (-c[0], c[1])) if n]

    def commit_services(self, files: list[str] | None) -> dict[str, Any]:
        """A commit's `files`, `services` owning them, and `service` (the first, else the default)."""
        services = self.services_of(files or [])
        return {
            "files": files or [],
            "services": services,
            "service": services[0] if services else self.service,
        }


def check_unique(names: Iterable[str], what: str) -> None:
    """Raise ValueError naming the entries listed more than once (compared case-insensitively)."""
    lowered = [n.lower() for n in names]
    if dupes := sorted({n for n in lowered if lowered.count(n) > 1}):
        raise ValueError(f"{what} listed twice: {', '.join(dupes)}")


M = TypeVar("M", bound=ServiceMapping)


def required_id(item: dict[str, Any], key: str, where: str) -> str:
    """The non-empty string at `item[key]` (a commit's sha), else ValueError naming the field."""
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: field {key!r} is missing")
    return value


def merged_in_window(item: dict[str, Any], where: str, window: Window) -> datetime | None:
    """The `merged_at` time of a pull/merge request when it falls inside the window, else None."""
    merged = parse_time(item.get("merged_at"), f"{where} field 'merged_at'")
    return merged if merged is not None and in_window(merged, window) else None


def collect_commits(
    sources: Sequence[M],
    window: Window,
    read: Callable[[M, Window, list[RawPayload]], list[Commit]],
    attach: Callable[[M, Window, list[Commit], list[RawPayload]], list[Commit]] | None,
) -> Collected:
    """Commits `read` from each repository, plus those `attach` adds for merged requests (when given)."""
    collected = Collected("commits", [])
    for source in sources:
        commits = read(source, window, collected.raw)
        if attach is not None:
            commits += attach(source, window, commits, collected.raw)
        collected.records.extend(commits)
    return collected


def iso_z(ts: datetime) -> str:
    """`2024-03-01T10:00:00Z`: the timestamp format the VCS APIs take in query parameters."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_sha(value: Any) -> bool:
    """Whether the value is a full git object id (40 hex digits, or 64 for SHA-256 repositories)."""
    return isinstance(value, str) and bool(_SHA_RE.match(value))


def in_window(ts: datetime, window: Window) -> bool:
    """Whether ts falls inside the half-open window [start, end)."""
    return window.start <= ts < window.end


def dig(item: Any, path: str) -> Any:
    """`item["a"]["b"]` for path "a.b"; None when a level is missing or not an object."""
    for key in path.split("."):
        if not isinstance(item, dict):
            return None
        item = item.get(key)
    return item


def json_items(pages: Iterator[Page], raw: list[RawPayload]) -> Iterator[tuple[dict[str, Any], str]]:
    """Each object of Link-paginated JSON lists with where it came from (`GET uri [i]`); raw pages kept."""
    for body, payload in pages:
        raw.append(payload)
        if not isinstance(body, list):
            raise PayloadError(
                f"GET {payload.uri}: expected a JSON list, got {type(body).__name__}",
                method="GET",
                url=payload.uri,
            )
        for i, item in enumerate(body):
            where = f"GET {payload.uri} [{i}]"
            if not isinstance(item, dict):
                raise PayloadError(f"{where}: expected an object", method="GET", url=payload.uri)
            yield item, where


def payload_error(exc: Exception, where: str) -> PayloadError:
    """A PayloadError for a record the adapter could not read (`where` starts with `GET <uri>`)."""
    url = where.split(" ", 2)[1] if where.startswith("GET ") else where
    message = str(exc) if str(exc).startswith(where) else f"{where}: {exc}"
    return PayloadError(message, method="GET", url=url)


@contextmanager
def reading(where: str) -> Iterator[None]:
    """Turn a ValueError or ValidationError raised while reading the record at `where` into a PayloadError."""
    try:
        yield
    except (ValueError, ValidationError) as exc:
        raise payload_error(exc, where) from None
