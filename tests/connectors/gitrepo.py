"""Real git repositories for tests: commits with chosen author and committer dates (no network, no mocks).

repo = GitRepo.init(tmp_path / "shop")
sha = repo.commit("add checkout", {"services/checkout/app.py": "print(1)\\n"}, when=T0)
repo.git("checkout", "-b", "feature")
"""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path


class GitRepo:
    """A repository in a directory, driven with the `git` command."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def init(cls, path: Path, branch: str = "main") -> GitRepo:
        """`git init` with a fixed identity and no signing or hooks from the user's config."""
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.git("init", "-q", "-b", branch)
        for key, value in (
            ("user.name", "Test Author"),
            ("user.email", "author@example.org"),
            ("commit.gpgsign", "false"),
            ("core.hooksPath", "/dev/null"),
        ):
            repo.git("config", key, value)
        return repo

    def git(self, *args: str, when: datetime | None = None, authored: datetime | None = None) -> str:
        """Run git in the repository; `when` sets the committer date, `authored` the author date."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        if when is not None:
            env["GIT_COMMITTER_DATE"] = when.isoformat()
            env["GIT_AUTHOR_DATE"] = (authored or when).isoformat()
        done = subprocess.run(
            ["git", "-C", str(self.path), *args], capture_output=True, text=True, env=env, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr}")
        return done.stdout.strip()

    def write(self, files: dict[str, str | bytes | None]) -> None:
        """Create, overwrite (text or bytes) or delete (None) files."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)

    def commit(
        self,
        message: str,
        files: dict[str, str | bytes | None] | None = None,
        *,
        when: datetime,
        authored: datetime | None = None,
        allow_empty: bool = False,
    ) -> str:
        """Write the files, stage everything and commit at `when`; returns the sha."""
        self.write(files or {})
        self.git("add", "-A")
        extra = ["--allow-empty"] if allow_empty else []
        self.git("commit", "-q", *extra, "-m", message, when=when, authored=authored)
        return self.head()

    def head(self) -> str:
        """The sha HEAD points at."""
        return self.git("rev-parse", "HEAD")
