"""Git plumbing for publishers: commits built in a private index, never in a work tree.

A bundle is committed on top of a parent commit without checking anything out: blobs are
written with `hash-object`, a tree is assembled in a temporary index (`GIT_INDEX_FILE`)
and `commit-tree` makes the commit. The user's work tree, index and current branch are
never touched. Branches move with `update-ref OLD NEW`, which fails instead of losing a
concurrent update. For pushes the token travels as an HTTP header set through
`GIT_CONFIG_COUNT/KEY/VALUE` environment variables, so it is in no argv and no remote URL.
"""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
from pathlib import Path

from tools.errors import ExtractionError

ZERO = "0" * 40
FALLBACK_IDENTITY = ("flashinfer-trace agent", "agent-batch@localhost")


class GitError(ExtractionError):
    slug = "git-failed"


class Git:
    def __init__(self, repo: Path, *, token: str | None = None) -> None:
        self.repo = Path(repo)
        self._token = token
        self._identity_env: dict[str, str] | None = None

    def run(self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None, check: bool = True) -> str:
        full_env = {**os.environ, **self._identity(), **(env or {}), **self._auth_env()}
        result = subprocess.run(["git", "-C", str(self.repo), *args], input=input, capture_output=True, env=full_env)
        if check and result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip()
            if self._token:
                message = message.replace(self._token, "***")
            raise GitError(f"git {args[0]} failed in {self.repo}: {message}", hint="Check the repository and remote named in the error.")
        return result.stdout.decode(errors="replace").strip()

    def _auth_env(self) -> dict[str, str]:
        if not self._token:
            return {}
        basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
        return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraheader", "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}"}

    def _identity(self) -> dict[str, str]:
        """Git's configured identity, else a fallback, so commits never fail on a bare machine."""
        if self._identity_env is None:
            configured = subprocess.run(["git", "-C", str(self.repo), "config", "user.email"], capture_output=True)
            name, email = FALLBACK_IDENTITY
            fallback = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
            self._identity_env = {} if configured.returncode == 0 and configured.stdout.strip() else fallback
        return self._identity_env

    def resolve(self, ref: str) -> str | None:
        out = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return out or None

    def read_file(self, commit: str, path: str) -> bytes | None:
        result = subprocess.run(["git", "-C", str(self.repo), "show", f"{commit}:{path}"], capture_output=True)
        return result.stdout if result.returncode == 0 else None

    def commit_files(self, parent: str, files: dict[str, bytes], message: str) -> str:
        """A commit of `files` on top of `parent`; returns its id. Nothing else changes."""
        with tempfile.TemporaryDirectory(prefix="agent-git-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.run("read-tree", parent, env=env)
            for path, data in sorted(files.items()):
                blob = self.run("hash-object", "-w", "--stdin", input=data)
                self.run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
            tree = self.run("write-tree", env=env)
        if tree == self.run("rev-parse", f"{parent}^{{tree}}"):
            return parent  # nothing changed: no empty commit
        return self.run("commit-tree", tree, "-p", parent, "-F", "-", input=message.encode())

    def move_branch(self, branch: str, new: str, old: str | None) -> None:
        """Point `branch` at `new`, only if it is still at `old` (None: only if it does not exist)."""
        self.run("update-ref", f"refs/heads/{branch}", new, old or ZERO)

    def message(self, commit: str) -> str:
        return self.run("log", "-1", "--format=%B", commit)

    def is_ancestor(self, commit: str, of: str) -> bool:
        return subprocess.run(["git", "-C", str(self.repo), "merge-base", "--is-ancestor", commit, of], capture_output=True).returncode == 0

    def push(self, remote: str, commit: str, branch: str) -> None:
        self.run("push", "--quiet", remote, f"{commit}:refs/heads/{branch}")

    def fetch_branch(self, remote: str, branch: str) -> str | None:
        """The remote branch's commit (fetched into the object store), or None if it has none."""
        listed = self.run("ls-remote", remote, f"refs/heads/{branch}")
        if not listed:
            return None
        self.run("fetch", "--quiet", remote, f"refs/heads/{branch}")
        return listed.split()[0]
