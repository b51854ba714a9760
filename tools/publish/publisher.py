"""The interface every publishing backend implements, and the decision they share.

A backend knows how to find the pull request (or branch) that carries a submission, open
one, and add a commit to one. `publish` decides between them, the same way everywhere:

    none found              -> open one
    found, closed or merged -> leave it alone (never reopened, never duplicated)
    found, same content key -> nothing to do
    found, other content    -> a follow-up commit on the same pull request

Identity is the submission's `id`, written into the pull request as a marker
(`<!-- agent-batch id=... key=... -->`), so the lookup also finds a pull request a
crashed run opened but never recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel

from tools.errors import ExtractionError

PRStatus = Literal["open", "draft", "closed", "merged"]
Action = Literal["created", "updated", "up_to_date", "left_closed"]

_MARKER = re.compile(r"<!-- agent-batch id=(?P<id>\S+) key=(?P<key>[0-9a-f]+) -->")


class PublishError(ExtractionError):
    """A remote refused or failed a request; what was published before is recorded."""

    slug = "publish-failed"


class TokenRefusedError(PublishError):
    slug = "token-refused"


@dataclass
class Submission:
    """What one pull request should carry."""

    id: str
    key: str
    branch: str
    title: str
    body: str
    """Without the marker: `marked_body` adds it."""
    files: dict[str, bytes] = field(default_factory=dict)
    draft: bool = False
    commit_message: str = ""

    @property
    def marker(self) -> str:
        return marker(self.id, self.key)

    @property
    def marked_body(self) -> str:
        return f"{self.body.rstrip()}\n\n{self.marker}\n"


class PullRequest(BaseModel):
    backend: str
    url: str
    status: PRStatus
    number: int | None = None
    branch: str | None = None
    key: str | None = None
    """The content key its latest marker records; None when it has none."""


class PublishOutcome(BaseModel):
    action: Action
    pull_request: PullRequest


class Publisher(Protocol):
    name: str

    def find(self, submission: Submission) -> PullRequest | None: ...

    def open(self, submission: Submission) -> PullRequest: ...

    def update(self, pull_request: PullRequest, submission: Submission) -> PullRequest: ...


def publish(publisher: Publisher, submission: Submission) -> PublishOutcome:
    found = publisher.find(submission)
    if found is None:
        return PublishOutcome(action="created", pull_request=publisher.open(submission))
    if found.status in ("closed", "merged"):
        return PublishOutcome(action="left_closed", pull_request=found)
    if found.key == submission.key:
        return PublishOutcome(action="up_to_date", pull_request=found)
    return PublishOutcome(action="updated", pull_request=publisher.update(found, submission))


def marker(submission_id: str, key: str) -> str:
    return f"<!-- agent-batch id={submission_id} key={key} -->"


def latest_key(texts: list[str], submission_id: str) -> str | None:
    """The key of the last marker for `submission_id` in `texts` (description, then comments)."""
    key = None
    for text in texts:
        for match in _MARKER.finditer(text or ""):
            if match["id"] == submission_id:
                key = match["key"]
    return key


def carries(texts: list[str], submission_id: str) -> bool:
    return any(m["id"] == submission_id for text in texts for m in _MARKER.finditer(text or ""))
