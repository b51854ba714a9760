"""The local backend: branches and commits in a real git repository, work tree untouched."""

from __future__ import annotations

from tests.tools.publish.gitrepos import files_at, git, make_repo
from tools.publish.local import LocalPublisher
from tools.publish.publisher import Submission, publish


def submission(text: str = "{}\n", key: str = "aaaa1111") -> Submission:
    return Submission(id="definition:gemm_n8_k8", key=key, branch="agent/def-gemm_n8_k8", title="Add gemm_n8_k8: definition",
                      body="body", files={"definitions/gemm/gemm_n8_k8.json": text.encode()})


def test_commits_each_submission_on_its_own_branch_without_touching_the_work_tree(tmp_path):
    repo = make_repo(tmp_path / "ds", {"definitions/rmsnorm/rmsnorm_h8.json": "{}\n"})
    (repo / "untracked.txt").write_text("mine")
    outcome = publish(LocalPublisher(repo, "main"), submission())
    assert outcome.action == "created"
    assert files_at(repo, "agent/def-gemm_n8_k8") == {"definitions/rmsnorm/rmsnorm_h8.json": "{}", "definitions/gemm/gemm_n8_k8.json": "{}"}
    assert git(repo, "branch", "--show-current") == "main" and git(repo, "status", "--porcelain") == "?? untracked.txt"
    assert "Agent-Batch: id=definition:gemm_n8_k8 key=aaaa1111" in git(repo, "log", "-1", "--format=%B", "agent/def-gemm_n8_k8")


def test_same_content_is_up_to_date_and_changed_content_a_follow_up_commit(tmp_path):
    repo = make_repo(tmp_path / "ds", {"README.md": "x\n"})
    publish(LocalPublisher(repo, "main"), submission())
    first = git(repo, "rev-parse", "agent/def-gemm_n8_k8")
    assert publish(LocalPublisher(repo, "main"), submission()).action == "up_to_date"
    assert publish(LocalPublisher(repo, "main"), submission('{"v": 2}\n', key="bbbb2222")).action == "updated"
    assert git(repo, "rev-parse", "agent/def-gemm_n8_k8^") == first
    assert files_at(repo, "agent/def-gemm_n8_k8")["definitions/gemm/gemm_n8_k8.json"] == '{"v": 2}'


def test_a_branch_merged_into_the_base_is_left_alone(tmp_path):
    repo = make_repo(tmp_path / "ds", {"README.md": "x\n"})
    publish(LocalPublisher(repo, "main"), submission())
    git(repo, "merge", "-q", "--ff-only", "agent/def-gemm_n8_k8")
    outcome = publish(LocalPublisher(repo, "main"), submission('{"v": 3}\n', key="cccc3333"))
    assert outcome.action == "left_closed" and outcome.pull_request.status == "merged"
