"""`agent eval` end to end: a real subprocess, real SGLang sources, real files and git."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent import exit_codes
from evals.truth import GroundTruth
from tests.agent.openai_server import Reply, ScriptedOpenAI
from tests.agent.scripted_drafts import as_reply, drafted_class

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, env=env, cwd=REPO)


def history(out):
    return [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, sglang_source):
    """Two runs of one small model: with CPU reference checks, then names only."""
    out = tmp_path_factory.mktemp("eval")
    first = run_cli("eval", "--models", "llama-3.2-3b", "--out", str(out))
    second = run_cli("eval", "--models", "llama-3.2-3b", "--verify", "none", "--out", str(out), "--quiet")
    return out, first, second


def test_a_run_prints_the_table_and_records_itself(recorded):
    out, first, second = recorded
    assert first.returncode == exit_codes.SUCCESS, first.stderr
    assert second.returncode == exit_codes.SUCCESS, second.stderr
    row = next(line for line in first.stdout.splitlines() if line.startswith("llama-3.2-3b"))
    expected = len(GroundTruth.load().models["llama-3.2-3b"].expected)
    assert "dense_gqa" in row and f"{expected}/{expected} 100%" in row
    assert "[eval 1/1] llama-3.2-3b" in first.stderr and second.stderr == ""
    runs = history(out)
    assert len(runs) == 2
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert runs[0]["git"]["commit"] == head and isinstance(runs[0]["git"]["dirty"], bool)
    assert [r["options"] for r in runs] == [{"verify": "auto", "llm": None}, {"verify": "none", "llm": None}]


def test_reference_checks_ran_on_the_cpu_for_every_definition(recorded):
    out, _, _ = recorded
    first, second = history(out)
    produced = first["scores"][0]["names"]["hits"] + len(first["scores"][0]["names"]["extra"])
    checks = first["scores"][0]["checks"]
    assert checks["passed"] + checks["failed"] + checks["skipped"] == produced
    assert checks["passed"] > 0
    assert second["totals"]["checks_passed"] == second["totals"]["checks_failed"] == 0


def test_the_report_and_chart_follow_the_history(recorded):
    out, _, _ = recorded
    report = (out / "report.md").read_text()
    runs = history(out)
    for run in runs:
        assert run["git"]["commit"][:8] in report
    assert report.count(f"| {runs[0]['time']} |") == 1 and report.count(f"| {runs[1]['time']} |") == 1
    assert (out / "history.png").read_bytes()[:4] == b"\x89PNG"


def test_explain_lists_exactly_the_recorded_mismatches(tmp_path, sglang_source):
    out = tmp_path / "eval"
    result = run_cli("eval", "--models", "deepseek-v2-lite,gemma-3-27b", "--verify", "none", "--explain", "--out", str(out), "--quiet")
    assert result.returncode == exit_codes.SUCCESS, result.stderr
    [run] = history(out)
    printed = [line.split() for line in result.stdout.splitlines() if line.startswith("  ")]
    for score in run["scores"]:
        names = score["names"]
        for kind, recorded_names in (("missing", [m["name"] for m in names["missing"]]), ("extra", [e["name"] for e in names["extra"]])):
            assert sorted(words[1] for words in printed if words[0] == kind and words[1] in recorded_names) == sorted(recorded_names)
    assert sum(len(s["names"]["missing"]) + len(s["names"]["extra"]) for s in run["scores"]) == sum(
        1 for words in printed if words[0] in ("missing", "extra")
    )


def test_unknown_model_exits_2_and_records_nothing(tmp_path):
    result = run_cli("eval", "--models", "gpt-9", "--out", str(tmp_path / "eval"))
    assert result.returncode == exit_codes.BAD_INPUT
    assert "No ground truth for model 'gpt-9'" in result.stderr and "hint:" in result.stderr
    assert not (tmp_path / "eval").exists()


def test_llm_endpoint_without_a_model_exits_2_before_any_run(tmp_path):
    result = run_cli("eval", "--models", "llama", "--llm-base-url", "http://127.0.0.1:9/v1", "--out", str(tmp_path / "eval"))
    assert result.returncode == exit_codes.BAD_INPUT
    assert "--llm-base-url needs --llm-model" in result.stderr and "[eval" not in result.stderr
    assert not (tmp_path / "eval").exists()


def _doubling_draft(body: dict, n: int) -> Reply:
    """A well-formed draft for whatever kernel is asked about: y = 2x (it runs, so it is kept)."""
    name = "scripted_" + re.sub(r"\W", "_", drafted_class(body)).lower() + "_d8"
    return Reply(
        as_reply({
            "name": name,
            "op_type": "scripted",
            "description": "Doubles its input.",
            "axes": {"n": {"type": "var"}, "d": {"type": "const", "value": 8}},
            "inputs": {"x": {"shape": ["n", "d"], "dtype": "bfloat16"}},
            "outputs": {"y": {"shape": ["n", "d"], "dtype": "bfloat16"}},
            "reference": "import torch\n\n\ndef run(x):\n    return x * 2\n",
        }),
        prompt_tokens=700,
        completion_tokens=100,
    )


def test_llm_path_drafts_the_pending_kernels_and_scores_their_tokens(tmp_path, sglang_source):
    # Kimi Linear's two batched KDA projections have no template.
    out = tmp_path / "eval"
    with ScriptedOpenAI(_doubling_draft) as server:
        result = run_cli("eval", "--models", "kimi-linear", "--verify", "auto", "--out", str(out), "--quiet",
                         "--llm-model", "scripted", "--llm-base-url", server.url, "--llm-max-attempts", "1", "--llm-retries", "0")
    assert result.returncode == exit_codes.SUCCESS, result.stderr
    [run] = history(out)
    assert run["options"] == {"verify": "auto", "llm": "scripted"}
    [score] = run["scores"]
    asked = {drafted_class(body) for body in server.requests}
    assert len(asked) == len(server.requests) >= 1
    assert (score["llm"]["kernels"], score["llm"]["attempts"], score["llm"]["tokens"]) == (len(asked), len(asked), 800 * len(asked))
    assert run["totals"]["pending"] == 0  # every pending component got a draft


def test_help_explains_the_command():
    result = run_cli("eval", "--help")
    assert result.returncode == 0
    for flag in ("--models", "--families", "--llm-model", "--llm-base-url", "--verify", "--explain", "--out", "--no-record"):
        assert flag in result.stdout


def test_the_holdout_is_scored_apart_with_precision_first(tmp_path, sglang_source):
    result = run_cli("eval", "--holdout", "--models", "smollm2-135m", "--verify", "none", "--out", str(tmp_path), "--quiet")
    assert result.returncode == exit_codes.SUCCESS, result.stderr
    headline = result.stdout.splitlines()[0]
    assert headline.startswith("HOLDOUT (1 models outside the catalog): precision 15/15 100%"), headline
    [record] = history(tmp_path)
    assert record["set"] == "holdout" and [s["model"] for s in record["scores"]] == ["smollm2-135m"]
    assert (tmp_path / "report.md").read_text().startswith("# Holdout eval: models outside the catalog")
