"""`agent baseline` as a user runs it: a real subprocess, real files, real exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

from agent import exit_codes
from tools.baseline.documented_format import KernelCallsFile, SglangImplementationFile
from tools.baseline.schema import KernelCall, SglangImplementation


def pinned(source):
    """Use the test session's downloaded SGLang (FLASHINFER_TRACE_AGENT_CACHE reaches the child)."""
    return ("--sglang-version", source.version, "--offline")


def run_cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_llama_baseline_writes_both_documents_and_the_snippets(tmp_path, sglang_source):
    result = run_cli("baseline", "--model-name", "llama", "--quiet", *pinned(sglang_source), cwd=tmp_path)
    assert result.returncode == exit_codes.SUCCESS, result.stderr
    target = tmp_path / "model_analysis" / "llama-3.1-8b"  # the default output directory
    # A tool written against the documented format reads both files...
    documented = KernelCallsFile.model_validate_json((target / "kernel_calls.json").read_text()).root
    assert SglangImplementationFile.model_validate_json((target / "sglang_implementation.json").read_text()).class_name == "LlamaForCausalLM"
    # ...and so does the project, with everything it adds.
    implementation = SglangImplementation.model_validate_json((target / "sglang_implementation.json").read_text())
    calls = [KernelCall.model_validate(entry) for entry in json.loads((target / "kernel_calls.json").read_text())]
    assert len(calls) == len(documented)
    assert implementation.model_file == "python/sglang/srt/models/llama.py" and implementation.sglang_version == sglang_source.version
    decode = [c for c in calls if c.flashinfer_equivalent == "gqa_paged_decode_h32_kv8_d128_ps64"]
    assert [c.baseline.name for c in decode] == ["attention.decode"]
    assert decode[0].code_location.startswith("models/llama.py:")
    assert (target / decode[0].snippet).is_file()
    assert "gqa_paged_decode_h32_kv8_d128_ps64" in result.stdout and "flashinfer_backend.py:" in result.stdout
    assert "wrote model_analysis/llama-3.1-8b/{sglang_implementation.json, kernel_calls.json, code_snippets/}" in result.stdout


def test_profile_options_reach_the_documents(tmp_path, sglang_source):
    out = tmp_path / "out"
    result = run_cli("baseline", "--model-name", "qwen3-8b", "--tp", "2", "--quiet", *pinned(sglang_source), "--output-dir", str(out))
    assert result.returncode == exit_codes.SUCCESS, result.stderr
    data = json.loads((out / "qwen3-8b" / "kernel_calls.json").read_text())
    assert {(c["tp"], c["ep"]) for c in data} == {(2, 1)}
    # Qwen3 8B has 32 query and 8 KV heads: 16 and 4 per GPU at TP=2.
    assert "gqa_paged_decode_h16_kv4_d128_ps1" in {c["flashinfer_equivalent"] for c in data}


def test_unknown_model_lists_the_closest_candidates_and_exits_2(tmp_path, sglang_source):
    result = run_cli("baseline", "--model-name", "deepseek-v9", *pinned(sglang_source), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == exit_codes.BAD_INPUT
    assert "Unknown model 'deepseek-v9'" in result.stderr and "Closest known models: deepseek-v3" in result.stderr
    assert "hint:" in result.stderr
    assert not (tmp_path / "out").exists()


def test_missing_sglang_path_says_what_to_pass_and_exits_2(tmp_path):
    result = run_cli("baseline", "--model-name", "llama", "--sglang-path", str(tmp_path / "nowhere"), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == exit_codes.BAD_INPUT
    assert "does not exist" in result.stderr and "hint: Point it at a SGLang git checkout" in result.stderr
    assert not (tmp_path / "out").exists()


def test_no_cached_sources_offline_says_how_to_provide_them_and_exits_2(tmp_path):
    result = run_cli(
        "baseline", "--model-name", "llama", "--offline", "--sglang-version", "0.5.23",
        "--cache-dir", str(tmp_path / "empty-cache"), "--output-dir", str(tmp_path / "out"),
    )
    assert result.returncode == exit_codes.BAD_INPUT
    assert "downloading is disabled" in result.stderr and "--sglang-path" in result.stderr
    assert not (tmp_path / "out").exists()


def test_help_explains_the_command():
    result = run_cli("baseline", "--help")
    assert result.returncode == 0
    for text in ("--model-name", "--config", "--tp", "--ep", "--sglang-path", "--output-dir", "sglang_implementation.json", "kernel_calls.json", "code_snippets"):
        assert text in result.stdout
