"""The GitHub backend: a branch pushed to a fork, and a pull request through the REST API.

The GitHub half of a pull-request pair changes `docs/model_coverage.mdx` only and links
the dataset pull request (the dataset's rule). The branch is committed in a local clone
of flashinfer-bench without a checkout (`git.py`), pushed to the fork with the token in
an HTTP header, never in the URL or argv, and the pull request is found again by its
head (`GET /pulls?head=owner:branch&state=all`). A 422 "already exists" counts as found.
Plain `urllib`, so tests can point `--github-api-url` at a fake server on loopback.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tools.publish.git import Git
from tools.publish.publisher import PublishError, PullRequest, Submission, TokenRefusedError, latest_key
from tools.publish.tokens import redact

DEFAULT_API_URL = "https://api.github.com"
USER_AGENT = "flashinfer-trace-agent"


class GitHubPublisher:
    name = "github"

    def __init__(self, *, repo: str, fork: str, checkout: Path, push_url: str, base: str, token: str, api_url: str = DEFAULT_API_URL) -> None:
        self.repo = repo
        self.fork_owner = fork.split("/")[0]
        self.api_url = api_url.rstrip("/")
        self.push_url = push_url
        self.base = base
        self._token = token
        self.git = Git(checkout, token=token)

    # ------------------------------------------------------------------ REST

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"{self.api_url}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self._token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": USER_AGENT,
                **({"Content-Type": "application/json"} if body is not None else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                data = json.loads(payload or b"null")
            except ValueError:
                data = {"message": payload.decode(errors="replace")[:200]}
            if exc.code in (401, 403):
                raise TokenRefusedError(
                    f"GitHub refused the token ({exc.code}) for {method} {path}: {redact(str((data or {}).get('message')), [self._token])}",
                    hint="Check GH_TOKEN / GITHUB_TOKEN: it needs 'pull requests: write' on the repository and 'contents: write' on the fork.",
                ) from None
            return exc.code, data
        except urllib.error.URLError as exc:
            raise PublishError(f"Cannot reach the GitHub API at {self.api_url}: {exc.reason}", hint="Check --github-api-url / GITHUB_API_URL.") from None

    def check_token(self) -> str:
        status, data = self._request("GET", "/user")
        if status != 200:
            raise PublishError(f"GitHub answered {status} to GET /user: {data}")
        return data["login"]

    # ------------------------------------------------------------------ Publisher

    def find(self, submission: Submission) -> PullRequest | None:
        status, pulls = self._request("GET", f"/repos/{self.repo}/pulls?head={self.fork_owner}:{submission.branch}&state=all")
        if status != 200:
            raise PublishError(f"GitHub answered {status} listing pull requests of {self.repo}: {pulls}")
        if not pulls:
            return None
        newest = max(pulls, key=lambda p: p["number"])
        return _pull_request(newest, submission)

    def open(self, submission: Submission) -> PullRequest:
        # A branch already on the fork (a crashed run pushed it, or a listing that lags
        # behind) gets a commit on top: nothing is ever force-pushed.
        parent = self.git.fetch_branch(self.push_url, submission.branch) or self._base_commit()
        commit = self.git.commit_files(parent, submission.files, submission.commit_message or submission.title)
        if commit != parent or parent == self._base_commit():
            self.git.push(self.push_url, commit, submission.branch)
        body = {
            "title": submission.title,
            "head": f"{self.fork_owner}:{submission.branch}",
            "base": self.base.split("/")[-1],
            "body": submission.marked_body,
            "draft": submission.draft,
            "maintainer_can_modify": True,
        }
        status, data = self._request("POST", f"/repos/{self.repo}/pulls", body)
        if status == 201:
            return _pull_request(data, submission)
        if status == 422 and "already exists" in json.dumps(data):
            found = self.find(submission)
            if found is not None:
                return found
        raise PublishError(f"GitHub answered {status} creating a pull request for {submission.branch}: {data}")

    def update(self, pull_request: PullRequest, submission: Submission) -> PullRequest:
        tip = self.git.fetch_branch(self.push_url, submission.branch)
        if tip is None:
            raise PublishError(f"Pull request {pull_request.url} is open but its branch {submission.branch} is gone from {self.push_url}.")
        commit = self.git.commit_files(tip, submission.files, f"Update: {submission.title}")
        if commit != tip:  # a follow-up commit, never a force-push over what a reviewer saw
            self.git.push(self.push_url, commit, submission.branch)
        status, data = self._request("PATCH", f"/repos/{self.repo}/pulls/{pull_request.number}", {"body": submission.marked_body})
        if status != 200:
            raise PublishError(f"GitHub answered {status} updating {pull_request.url}: {data}")
        return pull_request.model_copy(update={"key": submission.key})

    def base_file(self, path: str) -> bytes | None:
        """A file of flashinfer-bench as the base branch has it."""
        return self.git.read_file(self._base_commit(), path)

    def _base_commit(self) -> str:
        commit = self.git.resolve(self.base)
        if commit is None:
            raise PublishError(f"{self.git.repo} has no {self.base!r}.", hint="Pass --github-base with a branch of your flashinfer-bench clone (e.g. origin/main).")
        return commit


def _pull_request(data: dict[str, Any], submission: Submission) -> PullRequest:
    if data.get("merged_at"):
        status = "merged"
    elif data.get("state") == "closed":
        status = "closed"
    else:
        status = "draft" if data.get("draft") else "open"
    return PullRequest(
        backend="github",
        url=data["html_url"],
        status=status,
        number=data["number"],
        branch=submission.branch,
        key=latest_key([data.get("body") or ""], submission.id),
    )
