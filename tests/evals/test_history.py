"""The history file and the git state it records, against real git repositories."""

import subprocess

import pytest

from evals.history import EvalRecord, append_record, git_state, load_records
from evals.scoring import Totals
from tools.errors import ExtractionError


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "eval@example.com")
    git(repo, "config", "user.name", "eval")
    (repo / "code.py").write_text("x = 1\n")
    (repo / "evals").mkdir()
    (repo / "evals" / "history.jsonl").write_text("")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


def test_a_clean_checkout_records_its_commit(repo):
    state = git_state(repo)
    assert state.commit == git(repo, "rev-parse", "HEAD") and state.dirty is False


def test_an_edited_tracked_file_makes_it_dirty(repo):
    (repo / "code.py").write_text("x = 2\n")
    assert git_state(repo).dirty is True


def test_the_evals_own_outputs_do_not_make_it_dirty(repo):
    history = repo / "evals" / "history.jsonl"
    history.write_text('{"run": 1}\n')
    assert git_state(repo).dirty is True
    assert git_state(repo, ignore=[history]).dirty is False
    (repo / "code.py").write_text("x = 3\n")
    assert git_state(repo, ignore=[history]).dirty is True


def test_untracked_files_do_not_count_as_in_git_describe(repo):
    (repo / "scratch.txt").write_text("notes")
    assert git_state(repo).dirty is False


def test_outside_a_repository_nothing_is_claimed(tmp_path):
    state = git_state(tmp_path)
    assert state.commit is None and state.dirty is None


def test_records_append_one_line_each_and_load_back(tmp_path):
    path = tmp_path / "evals" / "history.jsonl"
    first = EvalRecord(totals=Totals(models=1, expected=10, hits=7), scores=[], options={"verify": "cpu", "llm": False})
    append_record(path, first)
    append_record(path, EvalRecord(totals=Totals(models=1, expected=10, hits=9), scores=[]))
    assert len(path.read_text().splitlines()) == 2
    loaded = load_records(path)
    assert [r.totals.recall for r in loaded] == [0.7, 0.9]
    assert loaded[0].options == {"verify": "cpu", "llm": False}


def test_a_broken_line_is_reported_with_its_number(tmp_path):
    path = tmp_path / "history.jsonl"
    append_record(path, EvalRecord(totals=Totals(), scores=[]))
    with path.open("a") as handle:
        handle.write('{"time": "yesterday"}\n')
    with pytest.raises(ExtractionError, match=r"history.jsonl:2"):
        load_records(path)
