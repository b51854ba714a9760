"""The GitHub backend: a real push to a bare git fork, pull requests on a fake REST API."""

from __future__ import annotations

import pytest

from tests.fakes.github import FakeGitHub
from tests.tools.publish.gitrepos import files_at, git, make_bare, make_repo
from tools.publish.github import GitHubPublisher
from tools.publish.publisher import Submission, TokenRefusedError, publish

TOKEN = "ghp_test_secret_token_abcdef"
COVERAGE = "docs/model_coverage.mdx"


def submission(row: str = "🟡", key: str = "aaaa1111", draft: bool = False) -> Submission:
    return Submission(
        id="coverage:rmsnorm_h3072",
        key=key,
        branch="agent/def-rmsnorm_h3072",
        title="docs: mark rmsnorm_h3072 as covered for Llama 3.2 3B",
        body="## Summary\n\nLinks https://huggingface.co/datasets/x/discussions/1",
        files={COVERAGE: f"| `rmsnorm_h3072` | rmsnorm | {row} |\n".encode()},
        draft=draft,
    )


@pytest.fixture
def setup(tmp_path):
    checkout = make_repo(tmp_path / "flashinfer-bench", {COVERAGE: "| `rmsnorm_h3072` | rmsnorm | ❌ |\n", "README.md": "bench\n"})
    fork = make_bare(tmp_path / "fork.git")
    with FakeGitHub("flashinfer-ai/flashinfer-bench", TOKEN) as api:
        def publisher(token: str = TOKEN) -> GitHubPublisher:
            return GitHubPublisher(repo="flashinfer-ai/flashinfer-bench", fork="agent-bot/flashinfer-bench", checkout=checkout,
                                   push_url=str(fork), base="main", token=token, api_url=api.url)
        yield api, fork, checkout, publisher


def test_pushes_the_branch_and_opens_a_pull_request(setup):
    api, fork, checkout, publisher = setup
    outcome = publish(publisher(), submission(draft=True))
    assert outcome.action == "created" and outcome.pull_request.number == 1 and outcome.pull_request.status == "draft"
    pushed = files_at(fork, "agent/def-rmsnorm_h3072")
    assert pushed[COVERAGE] == "| `rmsnorm_h3072` | rmsnorm | 🟡 |" and pushed["README.md"] == "bench"
    (create,) = [r for r in api.requests if r.method == "POST"]
    body = create.json()
    assert body["head"] == "agent-bot:agent/def-rmsnorm_h3072" and body["base"] == "main" and body["draft"] is True
    assert "<!-- agent-batch id=coverage:rmsnorm_h3072 key=aaaa1111 -->" in body["body"]
    assert git(checkout, "status", "--porcelain") == "" and git(checkout, "branch", "--show-current") == "main"


def test_an_open_pull_request_gets_a_follow_up_commit_not_a_second_pull_request(setup):
    api, fork, _, publisher = setup
    publish(publisher(), submission())
    first = git(fork, "rev-parse", "agent/def-rmsnorm_h3072")
    outcome = publish(publisher(), submission(row="✅", key="bbbb2222"))
    assert outcome.action == "updated" and len(api.pulls) == 1
    second = git(fork, "rev-parse", "agent/def-rmsnorm_h3072")
    assert git(fork, "rev-parse", f"{second}^") == first, "a follow-up commit on top, never a force-push"
    assert files_at(fork, "agent/def-rmsnorm_h3072")[COVERAGE].endswith("✅ |")
    assert "key=bbbb2222" in api.pulls[0]["body"]
    assert publish(publisher(), submission(row="✅", key="bbbb2222")).action == "up_to_date"


@pytest.mark.parametrize("merged", [False, True])
def test_a_closed_pull_request_is_left_alone(setup, merged):
    api, fork, _, publisher = setup
    publish(publisher(), submission())
    api.close(1, merged=merged)
    tip = git(fork, "rev-parse", "agent/def-rmsnorm_h3072")
    outcome = publish(publisher(), submission(row="✅", key="cccc3333"))
    assert outcome.action == "left_closed" and outcome.pull_request.status == ("merged" if merged else "closed")
    assert len(api.pulls) == 1 and git(fork, "rev-parse", "agent/def-rmsnorm_h3072") == tip


def test_a_422_duplicate_counts_as_found(setup):
    api, _, _, publisher = setup
    publish(publisher(), submission())
    api.hide_from_next_listing = True  # the lookup misses it, the creation meets GitHub's 422
    outcome = publish(publisher(), submission())
    assert outcome.action == "created" and outcome.pull_request.number == 1 and len(api.pulls) == 1
    assert [r.method for r in api.requests if r.path.endswith("/pulls")][-3:] == ["GET", "POST", "GET"]


def test_a_refused_token_stops_with_a_clear_error(setup, tmp_path):
    api, fork, _, publisher = setup
    with pytest.raises(TokenRefusedError) as caught:
        publisher("ghp_wrong").check_token()
    assert "401" in caught.value.message and "GH_TOKEN" in caught.value.hint and "ghp_wrong" not in caught.value.message
    with pytest.raises(TokenRefusedError):
        publish(publisher("ghp_wrong"), submission())
    assert not api.pulls


def test_the_token_is_in_no_argv_url_or_body(setup, tmp_path, monkeypatch):
    api, _, _, publisher = setup
    trace = tmp_path / "git-trace.log"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    publish(publisher(), submission())
    publish(publisher(), submission(row="✅", key="dddd4444"))
    assert "git push" in trace.read_text() or "push" in trace.read_text()
    assert TOKEN not in trace.read_text()
    assert not any(TOKEN in line for line in api.server.log_lines)
    assert all(r.authorization == f"Bearer {TOKEN}" for r in api.requests)
