"""A fake GitHub REST API on loopback: the pull-request routes `agent batch` uses.

`GET /user`, `GET/POST /repos/{o}/{r}/pulls` (`head=owner:branch`, `state=`), `PATCH
/repos/{o}/{r}/pulls/{n}`. A second pull request for the same head answers 422 "A pull
request already exists", as GitHub does. `refuse_list_once` makes the next listing look
empty, so the client meets the 422 (a listing that lags behind a creation). Branches are
pushed by the client to a real bare git repository; the fake only records pull requests.
"""

from __future__ import annotations

from typing import Any, Callable

from tests.fakes.server import FakeService, Request


class FakeGitHub(FakeService):
    def __init__(self, repo: str, token: str, user: str = "agent-bot") -> None:
        self.repo = repo
        self.token = token
        self.user = user
        self.pulls: list[dict[str, Any]] = []
        self.hide_from_next_listing = False
        self.after_create: Callable[[dict[str, Any]], None] | None = None
        super().__init__()

    def close(self, number: int, merged: bool = False) -> None:
        pull = self.pulls[number - 1]
        pull["state"] = "closed"
        pull["merged_at"] = "2026-11-29T12:00:00Z" if merged else None

    def _route(self, request: Request) -> tuple[int, Any]:
        if request.authorization != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
        if request.path == "/user":
            return 200, {"login": self.user}
        base = f"/repos/{self.repo}/pulls"
        if request.path == base and request.method == "GET":
            if self.hide_from_next_listing:
                self.hide_from_next_listing = False
                return 200, []
            head = request.query.get("head", [None])[0]
            state = request.query.get("state", ["open"])[0]
            found = [p for p in self.pulls if (head is None or p["head_label"] == head) and (state == "all" or p["state"] == state)]
            return 200, found
        if request.path == base and request.method == "POST":
            body = request.json()
            if any(p["head_label"] == body["head"] and p["state"] == "open" for p in self.pulls):
                return 422, {"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": f"A pull request already exists for {body['head']}."}]}
            number = len(self.pulls) + 1
            pull = {
                "number": number,
                "html_url": f"https://github.com/{self.repo}/pull/{number}",
                "state": "open",
                "draft": bool(body.get("draft")),
                "merged_at": None,
                "title": body["title"],
                "body": body.get("body"),
                "head_label": body["head"],
                "base": body["base"],
            }
            self.pulls.append(pull)
            if self.after_create:
                self.after_create(pull)
            return 201, pull
        if request.path.startswith(base + "/") and request.method == "PATCH":
            pull = self.pulls[int(request.path.rsplit("/", 1)[1]) - 1]
            pull.update({k: v for k, v in request.json().items() if k in ("body", "title")})
            return 200, pull
        return 404, {"message": "Not Found"}
