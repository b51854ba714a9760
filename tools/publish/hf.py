"""The Hugging Face backend: dataset pull requests through huggingface_hub.

A pull request is opened with its files in one call (`create_commit(create_pr=True)`), so
no empty pull request is ever left behind. It is found again by the marker in its
description, among the repository's pull requests whose title names the same
definition or model; a follow-up commit goes to `refs/pr/<num>` and a comment records the new
content key. The endpoint is configurable (`HfApi(endpoint=...)`): tests run against a
fake Hub on loopback.
"""

from __future__ import annotations

from typing import Any

from tools.publish.publisher import PublishError, PullRequest, Submission, TokenRefusedError, carries, latest_key
from tools.publish.tokens import redact

REPO_TYPE = "dataset"


class HfPublisher:
    name = "hf"

    def __init__(self, repo_id: str, *, token: str, endpoint: str | None = None, api: Any = None) -> None:
        from huggingface_hub import HfApi

        self.repo_id = repo_id
        self._token = token
        self.api = api or HfApi(endpoint=endpoint, token=token, library_name="flashinfer-trace-agent")

    def check_token(self) -> str:
        """The account the token belongs to; raises when the Hub refuses it."""
        return self._call(lambda: self.api.whoami(cache=False))["name"]

    def find(self, submission: Submission) -> PullRequest | None:
        discussions = self._call(
            lambda: list(self.api.get_repo_discussions(self.repo_id, repo_type=REPO_TYPE, discussion_type="pull_request", discussion_status="all"))
        )
        # Newest first: if a closed one and a later open one both carry the id, the open one counts.
        for discussion in sorted(discussions, key=lambda d: d.num, reverse=True):
            if _anchor(submission.id) not in discussion.title:
                continue
            details = self._call(lambda: self.api.get_discussion_details(self.repo_id, discussion.num, repo_type=REPO_TYPE))
            texts = [getattr(event, "content", "") or "" for event in details.events]
            if not carries(texts, submission.id):
                continue
            return PullRequest(
                backend=self.name,
                url=details.url,
                status=details.status,
                number=details.num,
                branch=details.git_reference,
                key=latest_key(texts, submission.id),
            )
        return None

    def open(self, submission: Submission) -> PullRequest:
        info = self._call(
            lambda: self.api.create_commit(
                self.repo_id,
                operations=_operations(submission.files),
                commit_message=submission.title,
                commit_description=submission.marked_body,
                repo_type=REPO_TYPE,
                create_pr=True,
            )
        )
        if info.pr_num is None:
            raise PublishError(f"The Hub opened no pull request for {submission.id}: nothing differs from the dataset's main branch.")
        return PullRequest(backend=self.name, url=info.pr_url, status="open", number=info.pr_num, branch=info.pr_revision, key=submission.key)

    def update(self, pull_request: PullRequest, submission: Submission) -> PullRequest:
        revision = f"refs/pr/{pull_request.number}"
        self._call(
            lambda: self.api.create_commit(
                self.repo_id,
                operations=_operations(submission.files),
                commit_message=f"Update: {submission.title}",
                commit_description=submission.commit_message or None,
                repo_type=REPO_TYPE,
                revision=revision,
            )
        )
        note = f"Updated by `agent batch`: the bundle changed (content key {submission.key}).\n\n{submission.marker}\n"
        self._call(lambda: self.api.comment_discussion(self.repo_id, pull_request.number, note, repo_type=REPO_TYPE))
        return pull_request.model_copy(update={"key": submission.key})

    def _call(self, request):
        from huggingface_hub.errors import HfHubHTTPError

        try:
            return request()
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            message = redact(str(exc).splitlines()[0], [self._token])
            if status in (401, 403):
                raise TokenRefusedError(
                    f"The Hub refused the token ({status}) for {self.repo_id}: {message}",
                    hint="Check HF_TOKEN: it needs write access to the dataset (a fine-grained token with 'write' on it).",
                ) from None
            raise PublishError(f"The Hub failed a request for {self.repo_id}: {message}", hint="Rerun with --resume: what was published is recorded.") from None


def _operations(files: dict[str, bytes]) -> list:
    from huggingface_hub import CommitOperationAdd

    return [CommitOperationAdd(path_in_repo=path, path_or_fileobj=data) for path, data in sorted(files.items())]


def _anchor(submission_id: str) -> str:
    """What every title of the submission names (its definition or model), however the rest
    of the title changes between runs: only those pull requests' details are read."""
    return submission_id.split(":", 1)[-1]
