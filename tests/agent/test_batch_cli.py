"""`agent batch` end to end: real extraction of Llama 3.2 3B (and Qwen3 8B) from SGLang's
sources, a real git dataset, pull requests on a fake Hub and a fake GitHub on loopback,
branches pushed to a bare git repository. The agent runs as a subprocess, as a user runs it.

The dataset fixture is made from the agent's own extraction of the model: some
definitions absent (new), one tagged for another model only (shared), one with another
constant axis (a conflict). Without a GPU nothing is verified, so definitions go out as 🟡 drafts
with --allow-unverified; the verified path of the gate is tested in test_batch_planning.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.github import FakeGitHub
from tests.fakes.hub import FakeHub
from tests.tools.publish.gitrepos import files_at, git, make_bare, make_repo

REPO = Path(__file__).resolve().parents[2]
HF_TOKEN = "hf_batch_secret_token_0123456789"
GH_TOKEN = "ghp_batch_secret_token_abcdef012"
HF_REPO = "flashinfer-ai/flashinfer-trace"
GH_REPO = "flashinfer-ai/flashinfer-bench"
SHARED = "rmsnorm_h3072"
CONFLICT = "gemm_n3072_k3072"
COVERAGE = "docs/model_coverage.mdx"


@pytest.fixture(scope="module")
def llama_definitions(tmp_path_factory, sglang_source):
    out = tmp_path_factory.mktemp("llama-extract")
    result = subprocess.run([sys.executable, "-m", "agent.cli", "extract", "--model-name", "llama-3.2-3b", "--verify", "none", "--output", str(out),
                             "--sglang-path", str(sglang_source.root), "--quiet", "--json"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return {p.stem: json.loads(p.read_text()) for p in (out / "definitions").glob("*/*.json")}


@pytest.fixture
def dataset(tmp_path, llama_definitions):
    """A git dataset holding a shared definition (another model's tag) and a conflicting one
    (the same name with another constant axis: another kernel for any store)."""
    shared = dict(llama_definitions[SHARED])
    shared["tags"] = sorted([t for t in shared["tags"] if not t.startswith("model:")] + ["model:minimax-m2"])
    conflict = json.loads(json.dumps(llama_definitions[CONFLICT]))
    conflict["axes"]["K"]["value"] = 2048  # another kernel under the same name (a dtype alone would be a convention)
    files = {
        f"definitions/rmsnorm/{SHARED}.json": json.dumps(shared, indent=2) + "\n",
        f"definitions/gemm/{CONFLICT}.json": json.dumps(conflict, indent=2) + "\n",
        "README.md": "flashinfer-trace\n",
    }
    return make_repo(tmp_path / "dataset", files)


@pytest.fixture
def bench_checkout(tmp_path):
    doc = "# Model Kernel Coverage\n\n## Llama 3.2 3B\n\n| Definition | Op Type | Status |\n|-----------|---------|:------:|\n| `rmsnorm_h3072` | rmsnorm | ❌ |\n\n**Coverage**: 0 / 1 definitions present.\n"
    checkout = make_repo(tmp_path / "flashinfer-bench", {COVERAGE: doc})
    return checkout, make_bare(tmp_path / "fork.git")


def batch(dataset: Path, *args: str, env: dict[str, str] | None = None, sglang_source=None, models: str = "llama-3.2-3b", popen: bool = False):
    command = [sys.executable, "-m", "agent.cli", "batch", "--models", models, "--dataset", str(dataset), "--verify", "none",
               "--sglang-path", str(sglang_source.root), "--jobs", "1", "--json", *args]
    full_env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "GH_TOKEN", "GITHUB_TOKEN")} | (env or {})
    if popen:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=full_env)
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=full_env)


def summary_of(result) -> dict:
    assert result.stdout.strip().startswith("{"), result.stderr[-3000:]
    return json.loads(result.stdout)


def test_help_explains_the_command():
    result = subprocess.run([sys.executable, "-m", "agent.cli", "batch", "--help"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0
    for phrase in ("--publish", "hf+github", "--allow-unverified", "--resume", "--dry-run", "--group", "--workloads", "HF_TOKEN", "GH_TOKEN", "Exit status"):
        assert phrase in result.stdout


def test_local_branches_carry_bundles_in_the_validators_layout(dataset, sglang_source):
    result = batch(dataset, "--publish", "local", "--allow-unverified", sglang_source=sglang_source)
    summary = summary_of(result)
    assert result.returncode == 3, "drafts of unverified definitions are an incomplete run"
    by_id = {b["id"]: b for b in summary["bundles"]}
    new = {b["definitions"][0] for b in summary["bundles"] if b["kind"] == "definitions"}
    assert SHARED not in new and CONFLICT not in new and "gqa_ragged_prefill_causal_h24_kv8_d128" in new
    assert all(b["status"] == "draft" and b["title"].startswith("🟡") for b in summary["bundles"] if b["kind"] == "definitions")
    assert by_id["tags:llama-3.2-3b"]["status"] == "ready" and by_id["tags:llama-3.2-3b"]["definitions"] == [SHARED]
    (conflict,) = summary["held_back"]
    assert conflict["name"] == CONFLICT and "conflict" in conflict["reason"] and "2048" in conflict["reason"]
    branches = set(git(dataset, "for-each-ref", "--format=%(refname:short)", "refs/heads/agent").split())
    assert branches == {b["branch"] for b in summary["bundles"]}
    name = "gqa_ragged_prefill_causal_h24_kv8_d128"
    committed = files_at(dataset, f"agent/def-{name}")
    added = sorted(set(committed) - {f"definitions/rmsnorm/{SHARED}.json", f"definitions/gemm/{CONFLICT}.json", "README.md"})
    assert added == [f"definitions/gqa_ragged/{name}.json", f"tests/references/test_{name}.py"]
    tagged = json.loads(files_at(dataset, "agent/tags-llama-3.2-3b")[f"definitions/rmsnorm/{SHARED}.json"])
    assert "model:llama-3.2-3b" in tagged["tags"] and "model:minimax-m2" in tagged["tags"]
    assert git(dataset, "status", "--porcelain") == "" and git(dataset, "branch", "--show-current") == "main"

    again = batch(dataset, "--publish", "local", "--allow-unverified", sglang_source=sglang_source)
    assert all(b["published"]["local"]["action"] == "up_to_date" for b in summary_of(again)["bundles"])
    assert set(git(dataset, "for-each-ref", "--format=%(refname:short)", "refs/heads/agent").split()) == branches


def test_hf_and_github_pairs_then_an_update_and_a_closed_pull_request(dataset, bench_checkout, sglang_source, tmp_path):
    checkout, fork = bench_checkout
    trace = tmp_path / "git-trace.log"
    with FakeHub(HF_REPO, HF_TOKEN) as hub, FakeGitHub(GH_REPO, GH_TOKEN) as github:
        env = {"HF_TOKEN": HF_TOKEN, "GH_TOKEN": GH_TOKEN, "GIT_TRACE": str(trace)}
        args = ["--publish", "hf+github", "--allow-unverified", "--hf-endpoint", hub.url, "--github-api-url", github.url, "--github-fork", "agent-bot/flashinfer-bench",
                "--github-checkout", str(checkout), "--github-base", "main", "--github-push-url", str(fork)]
        first = batch(dataset, *args, env=env, sglang_source=sglang_source)
        summary = summary_of(first)
        bundles = summary["bundles"]
        assert first.returncode == 3 and bundles
        assert len(hub.pulls) == len(bundles) and len(github.pulls) == len(bundles)
        for bundle in bundles:
            pr = next(p for p in hub.pulls.values() if p.title == bundle["title"])
            assert sorted(pr.files) == bundle["files"]
            assert f"id={bundle['id']}" in pr.events[0]["data"]["latest"]["raw"]
            gh = next(p for p in github.pulls if p["head_label"] == f"agent-bot:{bundle['branch']}")
            assert bundle["published"]["hf"]["url"] in gh["body"] and gh["draft"] == (bundle["status"] == "draft")
            assert files_at(fork, bundle["branch"]).keys() == {COVERAGE}
        tags_branch = files_at(fork, "agent/tags-llama-3.2-3b")[COVERAGE]
        assert "| `rmsnorm_h3072` | rmsnorm | 🟡 |" in tags_branch and "**Coverage**: 1 / 1" in tags_branch

        # Workloads collected later: the same pull requests get a follow-up commit; a closed one is left alone.
        name = "gqa_ragged_prefill_causal_h24_kv8_d128"
        closed_bundle = next(b for b in bundles if b["kind"] == "definitions" and b["definitions"][0] != name)
        closed_num = next(p.num for p in hub.pulls.values() if p.title == closed_bundle["title"])
        hub.close(closed_num)
        workloads = tmp_path / "collected"
        (workloads / "workloads" / "gqa_ragged").mkdir(parents=True)
        (workloads / "workloads" / "gqa_ragged" / f"{name}.jsonl").write_text('{"definition": "%s"}\n' % name)
        (workloads / "workloads" / "gqa_ragged" / f"{closed_bundle['definitions'][0]}.jsonl").write_text("{}\n")
        second = summary_of(batch(dataset, *args, "--workloads", str(workloads), env=env, sglang_source=sglang_source))
        assert len(hub.pulls) == len(bundles) and len(github.pulls) == len(bundles), "no second pull request"
        actions = {b["id"]: b["published"]["hf"]["action"] for b in second["bundles"]}
        assert actions[f"definition:{name}"] == "updated" and actions[closed_bundle["id"]] == "left_closed"
        updated = next(p for p in hub.pulls.values() if name in p.title)
        assert updated.files[f"workloads/gqa_ragged/{name}.jsonl"].startswith(b'{"definition"')
        assert f"workloads/gqa_ragged/{closed_bundle['definitions'][0]}.jsonl" not in hub.pulls[closed_num].files

        secrets_seen = [first.stdout, first.stderr, trace.read_text(), *hub.server.log_lines, *github.server.log_lines]
        secrets_seen += [p.read_text(errors="replace") for p in (dataset / ".agent").rglob("*.json")]
        for text in secrets_seen:
            assert HF_TOKEN not in text and GH_TOKEN not in text


def test_killed_after_opening_a_pull_request_resumes_without_a_duplicate(dataset, sglang_source):
    with FakeHub(HF_REPO, HF_TOKEN) as hub:
        args = ["--publish", "hf", "--allow-unverified", "--hf-endpoint", hub.url]
        process = batch(dataset, *args, env={"HF_TOKEN": HF_TOKEN}, sglang_source=sglang_source, popen=True)
        hub.after_create = lambda pr: os.kill(process.pid, signal.SIGKILL)  # the PR exists, the state never learns it
        process.communicate(timeout=600)
        assert process.returncode == -signal.SIGKILL and len(hub.pulls) == 1
        state = json.loads(next((dataset / ".agent" / "batch").glob("*/state.json")).read_text())
        assert not any("hf" in b["published"] for b in state["bundles"].values())
        hub.after_create = None
        resumed = batch(dataset, *args, "--resume", env={"HF_TOKEN": HF_TOKEN}, sglang_source=sglang_source)
        summary = summary_of(resumed)
        titles = [p.title for p in hub.pulls.values()]
        assert len(titles) == len(set(titles)) == len(summary["bundles"]), "one pull request per bundle, none twice"
        assert sum(b["published"]["hf"]["action"] == "up_to_date" for b in summary["bundles"]) == 1
        assert "already extracted" in resumed.stderr


def test_dry_run_writes_nothing_and_sends_nothing(dataset, bench_checkout, sglang_source):
    checkout, fork = bench_checkout
    before = subprocess.run(["find", str(dataset), str(fork), "-printf", "%p %s %T@\n"], capture_output=True, text=True).stdout
    with FakeHub(HF_REPO, HF_TOKEN) as hub, FakeGitHub(GH_REPO, GH_TOKEN) as github:
        result = batch(dataset, "--dry-run", "--publish", "hf+github", "--hf-endpoint", hub.url, "--github-api-url", github.url,
                       "--github-fork", "agent-bot/flashinfer-bench", "--github-checkout", str(checkout), "--github-push-url", str(fork),
                       env={"HF_TOKEN": HF_TOKEN, "GH_TOKEN": GH_TOKEN}, sglang_source=sglang_source)
        assert hub.requests == [] and github.requests == []
    summary = summary_of(result)
    assert result.returncode == 4 and summary["dry_run"] and summary["run_dir"] is None
    assert {b["status"] for b in summary["bundles"]} == {"planned"}
    assert any(b["branch"] == "agent/def-gqa_ragged_prefill_causal_h24_kv8_d128" for b in summary["bundles"])
    assert subprocess.run(["find", str(dataset), str(fork), "-printf", "%p %s %T@\n"], capture_output=True, text=True).stdout == before


def test_a_refused_token_stops_before_any_work(dataset, bench_checkout, sglang_source):
    with FakeHub(HF_REPO, HF_TOKEN) as hub:
        result = batch(dataset, "--publish", "hf", "--hf-endpoint", hub.url, env={"HF_TOKEN": "hf_not_the_right_one"}, sglang_source=sglang_source)
        assert [r.path for r in hub.requests] == ["/api/whoami-v2"]
    assert result.returncode == 2 and "refused the token" in result.stderr and "hf_not_the_right_one" not in result.stderr + result.stdout
    assert not (dataset / ".agent").exists()
    missing = batch(dataset, "--publish", "github", "--github-fork", "agent-bot/flashinfer-bench", "--github-checkout", str(bench_checkout[0]), sglang_source=sglang_source)
    assert missing.returncode == 2 and "GH_TOKEN or GITHUB_TOKEN" in missing.stderr


def test_an_unknown_model_is_bad_input(dataset, sglang_source):
    result = batch(dataset, sglang_source=sglang_source, models="llama-3.2-3b,no-such-model")
    assert result.returncode == 2 and "no-such-model" in result.stderr and not (dataset / ".agent").exists()
