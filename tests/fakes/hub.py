"""A fake Hugging Face Hub on loopback: just the routes dataset pull requests use.

Driven through the real `huggingface_hub.HfApi(endpoint=fake.url)`:
`GET /api/whoami-v2`, `POST .../preupload/{rev}`, `POST .../commit/{rev}` (NDJSON; with
`create_pr=1` it opens a pull request), `GET .../discussions`, `GET .../discussions/{n}`,
`POST .../discussions/{n}/comment`. Pull requests keep their files and events; a test
can close one (`close`). `after_create` runs after a pull request is opened and before
the answer is sent (a test kills the client there).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import unquote

from tests.fakes.server import FakeService, Request

CREATED_AT = "2026-11-29T12:00:00.000Z"


@dataclass
class HubPullRequest:
    num: int
    title: str
    status: str
    files: dict[str, bytes] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)


class FakeHub(FakeService):
    def __init__(self, repo_id: str, token: str, user: str = "agent-bot") -> None:
        self.repo_id = repo_id
        self.token = token
        self.user = user
        self.pulls: dict[int, HubPullRequest] = {}
        self.after_create: Callable[[HubPullRequest], None] | None = None
        super().__init__()

    def close(self, num: int, status: str = "closed") -> None:
        self.pulls[num].status = status

    # ------------------------------------------------------------------ routes

    def _route(self, request: Request) -> tuple[int, Any]:
        if request.authorization != f"Bearer {self.token}":
            return 401, {"error": "Invalid credentials in Authorization header"}
        prefix = f"/api/datasets/{self.repo_id}"
        path = request.path
        if path == "/api/whoami-v2":
            return 200, {"type": "user", "name": self.user, "auth": {"type": "access_token"}}
        if not path.startswith(prefix):
            return 404, {"error": f"no route {path}"}
        rest = path[len(prefix) :]
        if rest.startswith("/preupload/"):
            files = request.json()["files"]
            return 200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
        if rest.startswith("/commit/"):
            return self._commit(request, unquote(rest[len("/commit/") :]))
        if rest == "/discussions":
            listed = [self._summary(pr) for pr in sorted(self.pulls.values(), key=lambda p: -p.num)]
            return 200, {"count": len(listed), "start": 0, "discussions": listed}
        match = re.fullmatch(r"/discussions/(\d+)(/comment)?", rest)
        if match and int(match[1]) in self.pulls:
            pr = self.pulls[int(match[1])]
            if match[2]:
                event = self._comment(request.json()["comment"])
                pr.events.append(event)
                return 200, {"newMessage": event}
            return 200, {**self._summary(pr), "events": pr.events, "changes": {"base": "refs/heads/main"}, "filesWithConflicts": [], "diff": ""}
        return 404, {"error": f"no route {path}"}

    def _commit(self, request: Request, revision: str) -> tuple[int, Any]:
        lines = [json.loads(line) for line in request.body.splitlines() if line.strip()]
        header = next(item["value"] for item in lines if item["key"] == "header")
        files = {item["value"]["path"]: base64.b64decode(item["value"]["content"]) for item in lines if item["key"] == "file"}
        oid = hashlib.sha1(request.body).hexdigest()
        if request.query.get("create_pr") == ["1"]:
            pr = HubPullRequest(num=len(self.pulls) + 1, title=header["summary"], status="open", files=files)
            pr.events.append(self._comment(header.get("description") or ""))
            self.pulls[pr.num] = pr
            if self.after_create:
                self.after_create(pr)
        else:
            match = re.fullmatch(r"refs/pr/(\d+)", revision)
            if not match or int(match[1]) not in self.pulls:
                return 404, {"error": f"revision {revision} not found"}
            pr = self.pulls[int(match[1])]
            pr.files.update(files)
            pr.events.append({"id": f"c{len(pr.events)}", "type": "commit", "createdAt": CREATED_AT, "author": {"name": self.user}, "data": {"subject": header["summary"], "oid": oid}})
        return 200, {
            "commitUrl": f"{self.url}/datasets/{self.repo_id}/commit/{oid}",
            "commitOid": oid,
            "pullRequestUrl": f"{self.url}/datasets/{self.repo_id}/discussions/{pr.num}",
        }

    def _summary(self, pr: HubPullRequest) -> dict[str, Any]:
        return {
            "title": pr.title,
            "num": pr.num,
            "author": {"name": self.user},
            "createdAt": CREATED_AT,
            "status": pr.status,
            "repo": {"name": self.repo_id, "type": "dataset"},
            "isPullRequest": True,
        }

    def _comment(self, text: str) -> dict[str, Any]:
        return {"id": hashlib.sha1(text.encode()).hexdigest()[:12], "type": "comment", "createdAt": CREATED_AT, "author": {"name": self.user},
                "data": {"edited": False, "hidden": False, "latest": {"raw": text}}}
