"""git: the commits of a local clone inside the window, read with the `git` command (no network).

Config (`[connectors.<name>] type = "git"`), client (`git log` in a subprocess, NUL-separated output
with `--numstat` line counts, rename detection, merges diffed against their first parent) and adapter
(the log -> Commit). The window applies to the committer date (when a commit landed on its branch).
Path globs in gitignore syntax (as in CODEOWNERS) map the files a commit touches to services.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import pathspec
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from connectors.base import Collected, RawPayload, Window
from connectors.config import Duration
from connectors.registry import ConnectorType
from postmortem.model import Commit

RECORD, FIELD = b"\x1e", b"\x1f"
# sha, parents, author name, author date, committer date, raw message; then the --numstat entries
LOG_FORMAT = "%x1e%H%x1f%P%x1f%an%x1f%aI%x1f%cI%x1f%B%x1f"
LOG_OPTIONS = (
    "-z",
    "--numstat",
    "-M",
    "--diff-merges=first-parent",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--encoding=UTF-8",
    f"--format={LOG_FORMAT}",
)
# what `--all` reads, minus the stash and git-notes refs (their commits are not changes to the code)
ALL_REFS = ("--exclude=refs/stash", "--exclude=refs/notes/*", "--all")
REVERT_RE = re.compile(r"This reverts commit ([0-9a-f]{7,64})")
_SHA_RE = re.compile(rb"^[0-9a-f]{40}([0-9a-f]{24})?$")
GIT_TIMEOUT = 60.0


class GitError(RuntimeError):
    """A git command failed; the message names the repository, the command and git's own error."""

    def __init__(self, message: str, detail: str = ""):
        self.detail = detail
        super().__init__(message)


def git_env() -> dict[str, str]:
    """Environment of git subprocesses: no inherited GIT_* (GIT_DIR would redirect), no prompts, C locale."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"})
    return env


def run_git(repo: Path, args: Sequence[str], *, timeout: float = GIT_TIMEOUT, git: str = "git") -> bytes:
    """stdout of `git -C repo args...`; GitError with git's message when it fails or times out."""
    argv = [git, "-C", str(repo), "-c", "core.quotepath=off", "-c", "log.showSignature=false", *args]
    shown = " ".join(["git", *args])
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, env=git_env(), check=False)
    except FileNotFoundError:
        raise GitError(f"{repo}: the `{git}` command is not installed or not on PATH") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"{repo}: `{shown}` did not finish in {timeout:g} s") from None
    if done.returncode != 0:
        detail = " ".join(done.stderr.decode("utf-8", errors="replace").split())[:500]
        raise GitError(f"{repo}: `{shown}` failed ({done.returncode}): {detail}", detail)
    return done.stdout


def _rev_parse(repo: Path, *args: str) -> list[str]:
    return run_git(repo, ["rev-parse", *args]).decode("utf-8", errors="replace").splitlines()


# ---------------------------------------------------------------- config


class GitConfig(BaseModel):
    """`type = "git"`: a local clone, the branches to read and the path globs of each service."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Field(description="local clone (top of the work tree, or a bare repository)")
    repo: str | None = Field(
        None, min_length=1, description="repository name in the bundle (default: dir name)"
    )
    branches: list[str] = Field(
        default_factory=list, description="refs to read (default: every branch, remote branch and tag)"
    )
    services: dict[str, list[str]] = Field(
        default_factory=dict, description='service -> path globs, e.g. payments = ["services/payments/**"]'
    )
    clock_skew: Duration = Field(
        timedelta(hours=1), description="history read before the window, for out-of-order committer dates"
    )
    timeout: float = Field(GIT_TIMEOUT, gt=0, description="seconds a git log may take")

    @field_validator("path")
    @classmethod
    def _a_repository(cls, path: Path) -> Path:
        resolved = path.expanduser().resolve()
        if not resolved.is_dir():
            raise ValueError(f"{path} is not a directory (expected a local git clone)")
        try:
            if _rev_parse(resolved, "--is-bare-repository") == ["true"]:
                return resolved
            (top,) = _rev_parse(resolved, "--show-toplevel")
        except GitError as exc:
            raise ValueError(f"{resolved} is not a git repository ({exc.detail or exc})") from None
        if Path(top).resolve() != resolved:
            raise ValueError(f"{resolved} is inside the repository {top}; give the top of the clone")
        return resolved

    @field_validator("branches")
    @classmethod
    def _branches_exist(cls, branches: list[str], info: ValidationInfo) -> list[str]:
        path = info.data.get("path")
        for branch in branches if path is not None else []:
            try:
                _rev_parse(path, "--verify", "--quiet", "--end-of-options", f"{branch}^{{commit}}")
            except GitError:
                raise ValueError(f"{branch!r} does not exist in {path}") from None
        return branches

    @field_validator("services")
    @classmethod
    def _globs(cls, services: dict[str, list[str]]) -> dict[str, list[str]]:
        for service, globs in services.items():
            if not service or not globs or not all(isinstance(g, str) and g.strip() for g in globs):
                raise ValueError(f"service {service!r}: give a non-empty list of non-empty path globs")
            try:
                pathspec.PathSpec.from_lines("gitignore", globs)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"service {service!r}: bad path glob: {exc}") from None
        return services

    @property
    def repo_name(self) -> str:
        """The repository name written to each commit."""
        return self.repo or self.path.name.removesuffix(".git")


# ---------------------------------------------------------------- adapter


@dataclass
class LogEntry:
    """One commit as `git log` printed it, before mapping to services."""

    sha: str
    parents: list[str]
    author: str
    authored_at: datetime
    committed_at: datetime
    message: str
    files: list[str] = field(default_factory=list)
    renames: list[dict[str, str]] = field(default_factory=list)
    binary: list[str] = field(default_factory=list)
    additions: int = 0
    deletions: int = 0


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _numstat(entry: LogEntry, tokens: list[bytes], where: str) -> None:
    """Fill files, renames, binary files and line counts from a commit's NUL-separated numstat tokens."""
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if not token:
            continue
        parts = token.split(b"\t", 2)
        if len(parts) != 3:
            raise GitError(f"{where}: unexpected numstat entry {_text(token)[:80]!r}")
        added, deleted, path = parts
        if not path:  # a rename or copy: the old and the new path follow as two tokens
            if i + 1 >= len(tokens):
                raise GitError(f"{where}: a rename entry lacks its paths")
            old, new = _text(tokens[i]), _text(tokens[i + 1])
            i += 2
            entry.renames.append({"from": old, "to": new})
            name = new
        else:
            name = _text(path)
        entry.files.append(name)
        if added == b"-" or deleted == b"-":
            entry.binary.append(name)
        else:
            entry.additions += int(added)
            entry.deletions += int(deleted)


def _chunks(output: bytes) -> list[bytes]:
    """The output split per commit (a record separator inside a message is glued back)."""
    chunks: list[bytes] = []
    for piece in output.split(RECORD):
        if chunks and not _SHA_RE.match(piece.split(FIELD, 1)[0]):
            chunks[-1] += RECORD + piece
        elif piece.strip(b"\0\n"):
            chunks.append(piece)
    return chunks


def parse_log(output: bytes, where: str = "git log") -> list[LogEntry]:
    """The commits of `git log -z --numstat --format=LOG_FORMAT` output, in output order."""
    entries = []
    for chunk in _chunks(output):
        fields = chunk.split(FIELD, 5)
        message, sep, rest = fields[-1].rpartition(FIELD)  # a message may hold the separators itself
        if len(fields) != 6 or not sep:
            raise GitError(f"{where}: unexpected output near {_text(chunk)[:80]!r}")
        sha, parents, author, authored, committed = fields[:5]
        entry = LogEntry(
            sha=_text(sha),
            parents=_text(parents).split(),
            author=_text(author),
            authored_at=datetime.fromisoformat(_text(authored)).astimezone(UTC),
            committed_at=datetime.fromisoformat(_text(committed)).astimezone(UTC),
            message=_text(message).strip(),
        )
        _numstat(entry, rest.lstrip(b"\0\n").split(b"\0"), f"{where} {entry.sha}")
        entries.append(entry)
    return entries


def service_map(paths: pd.Series, services: dict[str, list[str]]) -> pd.DataFrame:
    """A boolean column per service: does each path match the service's globs (last matching glob wins)."""
    table = pd.DataFrame(index=paths.index)
    for service, globs in services.items():
        matched = pd.Series(False, index=paths.index)
        for pattern in pathspec.PathSpec.from_lines("gitignore", globs).patterns:
            if pattern.include is None or pattern.regex is None:
                continue
            hit = paths.str.match(pattern.regex.pattern).fillna(False).astype(bool)
            matched = (matched | hit) if pattern.include else (matched & ~hit)
        table[service] = matched
    return table


def commit_services(entries: list[LogEntry], services: dict[str, list[str]]) -> list[list[str]]:
    """Per commit, the services its files (both paths of a rename) belong to, owning most files first.

    Ties keep the configured order; a commit touching no configured path has none.
    """
    rows = [(i, path) for i, e in enumerate(entries) for path in [*e.files, *(r["from"] for r in e.renames)]]
    if not rows or not services:
        return [[] for _ in entries]
    touched = pd.DataFrame(rows, columns=["commit", "path"]).drop_duplicates()
    unique = pd.Series(touched["path"].unique())
    owners = service_map(unique, services).set_axis(unique.to_numpy())
    counts = (
        owners.loc[touched["path"].to_numpy()]
        .groupby(touched["commit"].to_numpy())
        .sum()
        .reindex(range(len(entries)), fill_value=0)
        .to_numpy()
    )
    ranked = np.argsort(-counts, axis=1, kind="stable")  # most files first, ties in configured order
    names = np.array(list(services), dtype=object)
    owned = np.take_along_axis(counts, ranked, axis=1) > 0
    return [names[order[keep]].tolist() for order, keep in zip(ranked, owned, strict=True)]


def to_commit(entry: LogEntry, services: list[str], repo: str) -> Commit:
    """The Commit record of one log entry; extra fields: services, parents, merge, revert(s), renames."""
    reverts = REVERT_RE.findall(entry.message)
    return Commit(
        sha=entry.sha,
        ts=entry.committed_at,
        author=entry.author,
        message=entry.message,
        repo=repo,
        service=services[0] if services else None,
        files=entry.files,
        additions=entry.additions,
        deletions=entry.deletions,
        services=services,
        parents=entry.parents,
        merge=len(entry.parents) > 1,
        revert=bool(reverts) or entry.message.startswith('Revert "'),
        reverts=reverts,
        renames=entry.renames,
        binary_files=entry.binary,
        authored_at=entry.authored_at,
    )


def _git_time(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


# ---------------------------------------------------------------- connector


class GitConnector:
    """Reads commits from a local clone (capability `commits`)."""

    def __init__(self, config: GitConfig, name: str):
        self.name = name
        self.config = config

    def __repr__(self) -> str:
        return f"GitConnector(name={self.name!r}, path={str(self.config.path)!r})"

    def log_range(self, window: Window) -> dict[str, str]:
        """`since`, `until` (whole seconds around the window, the clock-skew margin before) and `revs`."""
        since = (window.start - self.config.clock_skew).replace(microsecond=0)
        until = window.end.replace(microsecond=0) + timedelta(seconds=1)
        revs = " ".join(self.config.branches) if self.config.branches else "--all"
        return {"since": _git_time(since), "until": _git_time(until), "revs": revs}

    def log_args(self, window: Window) -> list[str]:
        """The `git log` arguments for a window."""
        span = self.log_range(window)
        revs = self.config.branches or list(ALL_REFS)
        return ["log", *LOG_OPTIONS, f"--since={span['since']}", f"--until={span['until']}", *revs, "--"]

    def fetch_commits(self, window: Window) -> Collected:
        """Commits whose committer date is inside the window, oldest first; the log output as raw payload."""
        output = run_git(self.config.path, self.log_args(window), timeout=self.config.timeout)
        logged = parse_log(output, f"{self.config.path}: git log")[::-1]  # oldest first, parents first
        entries = sorted(
            (e for e in logged if window.start <= e.committed_at < window.end), key=lambda e: e.committed_at
        )
        services = commit_services(entries, self.config.services)
        records = [to_commit(e, s, self.config.repo_name) for e, s in zip(entries, services, strict=True)]
        uri = f"{self.config.path.as_uri()}?{urlencode(self.log_range(window))}"
        return Collected("commits", records, [RawPayload(self.name, uri, output, "text/plain")])


CONNECTOR = ConnectorType(
    type="git",
    config=GitConfig,
    factory=GitConnector,
    capabilities=("commits",),
    summary="commits of a local clone (git log --numstat), files mapped to services by path globs",
)
