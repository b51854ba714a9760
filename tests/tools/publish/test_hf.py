"""The Hugging Face backend against a fake Hub on loopback, through the real HfApi."""

from __future__ import annotations

import pytest

from tests.fakes.hub import FakeHub
from tools.publish.hf import HfPublisher
from tools.publish.publisher import Submission, TokenRefusedError, publish

TOKEN = "hf_test_secret_token_0123456789"
REPO = "flashinfer-ai/flashinfer-trace"


def submission(content: bytes = b'{"name": "rmsnorm_h3072"}\n', key: str = "aaaa1111") -> Submission:
    return Submission(
        id="definition:rmsnorm_h3072",
        key=key,
        branch="agent/def-rmsnorm_h3072",
        title="Add rmsnorm_h3072: definition + reference test + baseline solution",
        body="## Summary\n\nA new definition.",
        files={"definitions/rmsnorm/rmsnorm_h3072.json": content, "tests/references/test_rmsnorm_h3072.py": b"def test_x():\n    assert True\n"},
    )


@pytest.fixture
def hub():
    with FakeHub(REPO, TOKEN) as fake:
        yield fake


def test_opens_one_pull_request_with_the_files_and_the_marker(hub):
    publisher = HfPublisher(REPO, token=TOKEN, endpoint=hub.url)
    outcome = publish(publisher, submission())
    assert outcome.action == "created" and outcome.pull_request.number == 1
    pr = hub.pulls[1]
    assert pr.title == submission().title
    assert pr.files == submission().files
    assert "<!-- agent-batch id=definition:rmsnorm_h3072 key=aaaa1111 -->" in pr.events[0]["data"]["latest"]["raw"]
    commits = [r for r in hub.requests if "/commit/" in r.path]
    assert len(commits) == 1 and commits[0].path.endswith("/commit/main") and commits[0].query["create_pr"] == ["1"]


def test_the_same_bundle_again_sends_no_write(hub):
    publisher = HfPublisher(REPO, token=TOKEN, endpoint=hub.url)
    publish(publisher, submission())
    before = len(hub.server.writes())
    outcome = publish(publisher, submission())
    assert outcome.action == "up_to_date" and outcome.pull_request.number == 1
    assert len(hub.server.writes()) == before and len(hub.pulls) == 1


def test_a_changed_bundle_is_a_follow_up_commit_on_the_open_pull_request(hub):
    publisher = HfPublisher(REPO, token=TOKEN, endpoint=hub.url)
    publish(publisher, submission())
    changed = submission(content=b'{"name": "rmsnorm_h3072", "description": "v2"}\n', key="bbbb2222")
    outcome = publish(publisher, changed)
    assert outcome.action == "updated" and len(hub.pulls) == 1
    commit = [r for r in hub.requests if "/commit/" in r.path][-1]
    assert commit.path.endswith("/commit/refs%2Fpr%2F1") and "create_pr" not in commit.query
    assert hub.pulls[1].files["definitions/rmsnorm/rmsnorm_h3072.json"] == changed.files["definitions/rmsnorm/rmsnorm_h3072.json"]
    assert "key=bbbb2222" in hub.pulls[1].events[-1]["data"]["latest"]["raw"]
    # and the next run sees the new key
    assert publish(publisher, changed).action == "up_to_date"


@pytest.mark.parametrize("status", ["closed", "merged"])
def test_a_closed_or_merged_pull_request_is_left_alone(hub, status):
    publisher = HfPublisher(REPO, token=TOKEN, endpoint=hub.url)
    publish(publisher, submission())
    hub.close(1, status)
    before = len(hub.server.writes())
    outcome = publish(publisher, submission(content=b"{}\n", key="cccc3333"))
    assert outcome.action == "left_closed" and outcome.pull_request.status == status
    assert len(hub.server.writes()) == before and len(hub.pulls) == 1


def test_a_pull_request_of_another_bundle_is_not_mistaken_for_ours(hub):
    publisher = HfPublisher(REPO, token=TOKEN, endpoint=hub.url)
    other = submission()
    other.id = "definition:rmsnorm_h30720"
    other.title = "Add rmsnorm_h30720: definition"
    publish(publisher, other)
    assert publish(publisher, submission()).action == "created" and len(hub.pulls) == 2


def test_a_refused_token_is_a_clear_error_without_the_token(hub):
    publisher = HfPublisher(REPO, token="hf_wrong_token_value", endpoint=hub.url)
    with pytest.raises(TokenRefusedError) as caught:
        publish(publisher, submission())
    assert "401" in caught.value.message and "HF_TOKEN" in caught.value.hint
    assert "hf_wrong_token_value" not in caught.value.message
    assert not hub.pulls
    with pytest.raises(TokenRefusedError):
        publisher.check_token()


def test_the_token_travels_in_the_header_only(hub):
    publisher = HfPublisher(REPO, token=TOKEN, endpoint=hub.url)
    publish(publisher, submission())
    assert publisher.check_token() == "agent-bot"
    assert all(r.authorization == f"Bearer {TOKEN}" for r in hub.requests)
    assert not any(TOKEN in line for line in hub.server.log_lines)
