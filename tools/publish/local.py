"""The local backend: one branch per submission in a git repository, for review and tests.

Each submission becomes a commit on `branch`, made on top of the base commit without a
checkout (`git.py`); the content key goes in a commit trailer. A branch already merged
into the base counts as a merged pull request and is left alone.
"""

from __future__ import annotations

import re
from pathlib import Path

from tools.publish.git import Git
from tools.publish.publisher import PublishError, PullRequest, Submission

_KEY_TRAILER = re.compile(r"^Agent-Batch: id=(?P<id>\S+) key=(?P<key>[0-9a-f]+)$", re.MULTILINE)


class LocalPublisher:
    name = "local"

    def __init__(self, repo: Path, base: str) -> None:
        self.git = Git(repo)
        base_commit = self.git.resolve(base)
        if base_commit is None:
            raise PublishError(f"{repo} has no commit {base!r} to branch from.", hint="Pass --base with a branch or commit of the dataset repository.")
        self.base = base_commit

    def find(self, submission: Submission) -> PullRequest | None:
        tip = self.git.resolve(f"refs/heads/{submission.branch}")
        if tip is None:
            return None
        keys = [m["key"] for m in _KEY_TRAILER.finditer(self.git.message(tip)) if m["id"] == submission.id]
        merged = self.git.is_ancestor(tip, self.base)
        return PullRequest(backend=self.name, url=self._url(submission.branch), status="merged" if merged else "open", branch=submission.branch, key=keys[-1] if keys else None)

    def open(self, submission: Submission) -> PullRequest:
        commit = self.git.commit_files(self.base, submission.files, self._message(submission))
        self.git.move_branch(submission.branch, commit, None)
        return PullRequest(backend=self.name, url=self._url(submission.branch), status="draft" if submission.draft else "open", branch=submission.branch, key=submission.key)

    def update(self, pull_request: PullRequest, submission: Submission) -> PullRequest:
        tip = self.git.resolve(f"refs/heads/{submission.branch}")
        commit = self.git.commit_files(tip, submission.files, self._message(submission, update=True))
        self.git.move_branch(submission.branch, commit, tip)
        return pull_request.model_copy(update={"key": submission.key})

    def _message(self, submission: Submission, *, update: bool = False) -> str:
        subject = ("Update: " if update else "") + submission.title
        return f"{subject}\n\n{submission.body.rstrip()}\n\nAgent-Batch: id={submission.id} key={submission.key}\n"

    def _url(self, branch: str) -> str:
        return f"{self.git.repo}#{branch}"
