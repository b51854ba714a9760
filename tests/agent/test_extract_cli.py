"""`agent extract` end to end: real SGLang sources, real files on disk, real exit codes."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agent import exit_codes
from agent.cli import main
from tests.tools.test_kernel_planner import LLAMA_3_1_8B_OFFICIAL, LLAMA_3_1_8B_ROPE

LLAMA_3_1_8B = LLAMA_3_1_8B_OFFICIAL | {LLAMA_3_1_8B_ROPE}


def definitions(root: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (root / "definitions").glob("*/*.json")}


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in (root / "definitions").rglob("*.json")}


@pytest.fixture(scope="module")
def llama_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    assert main(["extract", "--model-name", "llama", "--output", str(root), "--quiet"]) == exit_codes.SUCCESS
    return root


def test_llama_writes_exactly_the_official_set_and_its_rope(llama_store):
    found = definitions(llama_store)
    assert set(found) == LLAMA_3_1_8B
    for name, d in found.items():
        assert (llama_store / "definitions" / d["op_type"] / f"{name}.json").is_file()
        assert "model:llama-3.1-8b" in d["tags"] and "status:unverified" in d["tags"]
    reports = list((llama_store / "reports").glob("extract-llama-3.1-8b-*.json"))
    report = json.loads(reports[0].read_text())
    assert report["sglang_version"] and report["model_file"] == "sglang/srt/models/llama.py"
    assert sorted(e["name"] for e in report["entries"] if e["outcome"] == "new") == sorted(LLAMA_3_1_8B)


def test_running_again_adds_nothing(llama_store, capsys):
    before = snapshot(llama_store)
    assert main(["extract", "--model-name", "llama", "--output", str(llama_store), "--quiet"]) == exit_codes.SUCCESS
    assert snapshot(llama_store) == before
    assert f"{len(LLAMA_3_1_8B)} existing" in capsys.readouterr().out


def test_a_second_model_only_tags_what_it_shares(tmp_path, llama_store):
    root = tmp_path / "ds"
    shutil.copytree(llama_store, root)
    before = definitions(root)
    assert main(["extract", "--model-name", "qwen3-8b", "--output", str(root), "--quiet", "--json"]) == exit_codes.SUCCESS
    after = definitions(root)
    shared = {n for n in before if "model:qwen3-8b" in after[n]["tags"]}
    assert {"rmsnorm_h4096", "fused_add_rmsnorm_h4096", "gqa_paged_decode_h32_kv8_d128_ps1", "gqa_ragged_prefill_causal_h32_kv8_d128"} <= shared
    assert LLAMA_3_1_8B_ROPE in shared  # Llama3RotaryEmbedding and Qwen3's RotaryEmbedding: one kernel
    for name in before:
        # Shared files changed only in their tags.
        assert {k: v for k, v in after[name].items() if k != "tags"} == {k: v for k, v in before[name].items() if k != "tags"}
    new = set(after) - set(before)
    assert "top_k_sampling_from_probs_v151936" in new and all("model:qwen3-8b" in after[n]["tags"] for n in new)


def test_dry_run_writes_nothing(tmp_path, capsys):
    root = tmp_path / "ds"
    assert main(["extract", "--model-name", "llama", "--output", str(root), "--dry-run", "--quiet"]) == exit_codes.SUCCESS
    assert not root.exists()
    assert "would write" in capsys.readouterr().out


def run_cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_unknown_model_exits_2_with_candidates_and_writes_nothing(tmp_path):
    result = run_cli("extract", "--model-name", "gpt-7-turbo", "--output", str(tmp_path / "ds"))
    assert result.returncode == exit_codes.BAD_INPUT
    assert "error: Unknown model 'gpt-7-turbo'" in result.stderr
    assert "hint:" in result.stderr and "agent models" in result.stderr
    assert not (tmp_path / "ds").exists()


def test_malformed_config_exits_2(tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"architectures": ["LlamaForCausalLM"], "hidden_size": }')
    result = run_cli("extract", "--model-name", "mine", "--config", str(config), "--output", str(tmp_path / "ds"))
    assert result.returncode == exit_codes.BAD_INPUT
    assert "not valid JSON" in result.stderr and "line 1" in result.stderr
    assert not (tmp_path / "ds").exists()


def test_unparsable_sglang_file_exits_2(tmp_path, sglang_source):
    broken = tmp_path / "sglang-copy"
    shutil.copytree(sglang_source.root / "sglang", broken / "sglang")
    (broken / "sglang" / "srt" / "models" / "llama.py").write_text("class LlamaForCausalLM(:\n    pass\nEntryClass = LlamaForCausalLM\n")
    result = run_cli("extract", "--model-name", "llama", "--sglang-path", str(broken), "--output", str(tmp_path / "ds"))
    assert result.returncode == exit_codes.BAD_INPUT
    assert "cannot parse sglang/srt/models/llama.py" in result.stderr
    assert not (tmp_path / "ds" / "definitions").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_exits_2(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = run_cli("extract", "--model-name", "llama", "--output", str(locked / "ds"))
    finally:
        locked.chmod(stat.S_IRWXU)
    assert result.returncode == exit_codes.BAD_INPUT
    assert "not writable" in result.stderr


def test_output_path_that_is_a_file_exits_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("extract", "--model-name", "llama", "--output", str(blocker / "ds"))
    assert result.returncode == exit_codes.BAD_INPUT
    assert "not writable" in result.stderr
    assert blocker.read_text() == "x"


def test_tp_the_model_cannot_use_exits_2(tmp_path):
    result = run_cli("extract", "--model-name", "llama", "--tp", "3", "--output", str(tmp_path / "ds"))
    assert result.returncode == exit_codes.BAD_INPUT
    assert "TP=3" in result.stderr and "llama.py" in result.stderr
    assert not (tmp_path / "ds" / "definitions").exists()


def test_help_explains_the_command():
    result = run_cli("extract", "--help")
    assert result.returncode == 0
    for flag in ("--model-name", "--config", "--tp", "--ep", "--execution-modes", "--include-quantized", "--no-deduplicate", "--output", "--dry-run"):
        assert flag in result.stdout
