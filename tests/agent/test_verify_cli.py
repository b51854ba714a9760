"""`agent verify` on a machine without a GPU: real subprocesses, real files, real exit codes.

The command runs here as on the GPU machine, where LangGraph and openai are not
installed: they are made unimportable, and the GPU is hidden.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent import exit_codes
from tests.tools.verification.definitions import SMALL_GQA, build
from tools.dedup_store import DefinitionStore

REPO = Path(__file__).resolve().parents[2]

# Runs `agent` with LangGraph, LangChain and openai unimportable, as on the GPU machine.
WITHOUT_LANGGRAPH = """
import importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("langgraph", "langchain_core", "openai"):
            raise ImportError(f"{name} is not installed here")
sys.meta_path.insert(0, Absent())
from agent.cli import main
sys.exit(main(sys.argv[1:]))
"""


def agent(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), CUDA_VISIBLE_DEVICES="")
    return subprocess.run([sys.executable, "-c", WITHOUT_LANGGRAPH, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=600)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in (root / "definitions").rglob("*.json")}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dataset")
    store = DefinitionStore(root)
    for definition in (build("rmsnorm", hidden_size=64), build("gqa_ragged_prefill", **SMALL_GQA), build("top_p_sampling_from_probs", vocab_size=100)):
        store.commit(definition)
    return root


def test_without_a_gpu_it_says_so_runs_the_cpu_checks_and_writes_no_status(dataset):
    before = snapshot(dataset)
    result = agent("verify", "--all", "--output", str(dataset))
    assert result.returncode == exit_codes.SUCCESS, result.stderr
    assert "no CUDA GPU" in result.stderr and "no status is written" in result.stderr
    for name in ("rmsnorm_h64", "gqa_ragged_prefill_causal_h4_kv2_d16", "top_p_sampling_from_probs_v100"):
        assert f"{name}" in result.stdout
    assert "3 passed the CPU checks, 0 failed" in result.stdout
    assert snapshot(dataset) == before
    assert not (dataset / "solutions").exists()
    log = [json.loads(line) for line in (dataset / "verification" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["mode"] == "cpu" and log[-1]["environment"]["device"] == "cpu"
    assert {r["name"]: r["status"] for r in log[-1]["results"]} == dict.fromkeys(("gqa_ragged_prefill_causal_h4_kv2_d16", "rmsnorm_h64", "top_p_sampling_from_probs_v100"))
    report = json.loads((dataset / "verification" / log[-1]["report"]).read_text())
    assert all(r["cpu_check"]["cases"] for r in report["results"])


def test_a_failing_reference_exits_3_and_is_logged(tmp_path):
    store = DefinitionStore(tmp_path)
    broken = build("rmsnorm", hidden_size=64)
    broken["reference"] = broken["reference"].replace("return y.to(hidden_states.dtype)", "return (y * float('nan')).to(hidden_states.dtype)")
    store.commit(broken)
    store.commit(build("gemm", N=48, K=32))
    result = agent("verify", "rmsnorm_h64", "gemm_n48_k32", "--output", str(tmp_path), "--json")
    assert result.returncode == exit_codes.INCOMPLETE, result.stderr
    outcome = json.loads(result.stdout)
    verdicts = {r["name"]: (r["passed"], r["status"]) for r in outcome["results"]}
    assert verdicts == {"rmsnorm_h64": (False, None), "gemm_n48_k32": (True, None)}
    failed = next(r for r in outcome["results"] if r["name"] == "rmsnorm_h64")
    assert "non-finite" in failed["summary"]
    assert "status:unverified" in json.loads((tmp_path / "definitions" / "rmsnorm" / "rmsnorm_h64.json").read_text())["tags"]


def test_a_model_selects_its_definitions(dataset):
    result = agent("verify", "--model-name", "test-model", "--output", str(dataset))
    assert result.returncode == exit_codes.SUCCESS, result.stderr
    assert "3 passed the CPU checks" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["rmsnorm_h65"], "Did you mean rmsnorm_h64"),
        (["--model-name", "gpt-7-turbo"], "Unknown model 'gpt-7-turbo'"),
        (["--model-name", "llama"], "No definition in"),
        (["rmsnorm_h64", "--all"], "not both"),
        ([], "Nothing selected"),
    ],
)
def test_bad_selections_exit_2_and_change_nothing(dataset, args, message):
    before = snapshot(dataset)
    logs_before = sorted((dataset / "verification").glob("*.json")) if (dataset / "verification").exists() else []
    result = agent("verify", *args, "--output", str(dataset))
    assert result.returncode == exit_codes.BAD_INPUT, result.stderr
    assert message in result.stderr
    assert snapshot(dataset) == before
    assert (sorted((dataset / "verification").glob("*.json")) if (dataset / "verification").exists() else []) == logs_before


def test_an_empty_dataset_exits_2(tmp_path):
    result = agent("verify", "--all", "--output", str(tmp_path / "nothing-here"))
    assert result.returncode == exit_codes.BAD_INPUT
    assert "No definitions in" in result.stderr and "agent extract" in result.stderr
    assert not (tmp_path / "nothing-here").exists()


@pytest.fixture(scope="module")
def official_sample(tmp_path_factory) -> Path:
    """A few official interfaces (transcribed signatures), one per kind of verdict a GPU run gives."""
    from evals.dataset_fixture import write_fixture
    from evals.truth import GroundTruth

    root = tmp_path_factory.mktemp("official")
    chosen = ("gemm_n128_k2048", "rmsnorm_h4096", "dsa_topk_indexer_fp8_h64_d128_topk2048_ps64", "trtllm_fp4_block_scale_moe_topk1_e16_h5120_i8192")
    write_fixture(root, {n: s for n, s in GroundTruth.load().signatures.items() if n in chosen})
    return root


def test_a_dry_run_resolves_generates_inputs_and_writes_nothing(official_sample):
    before = snapshot(official_sample)
    result = agent("verify", "--all", "--dry-run", "--output", str(official_sample))
    assert result.returncode == exit_codes.UNVERIFIABLE, result.stderr
    assert "gemm_nt_segment (op type and inputs)" in result.stdout
    assert "dsa_topk_indexer (op type and inputs)" in result.stdout and "not checked against FlashInfer" in result.stdout
    assert "unverifiable: trtllm_fp4_block_scale_moe: a TRT-LLM-gen kernel built only for SM100/SM103 and SM120" in result.stdout
    assert "total: 3 with a binding, 1 unverifiable, 0 cases whose inputs could not be generated, 0 references refused" in result.stdout
    assert snapshot(official_sample) == before and not (official_sample / "verification").exists()


@pytest.mark.parametrize(
    "verdicts, code",
    [(["verified", "verified"], exit_codes.SUCCESS), (["verified", "unverifiable"], exit_codes.UNVERIFIABLE), (["failed", "unverifiable"], exit_codes.INCOMPLETE)],
)
def test_the_exit_status_tells_a_failure_from_an_unverifiable_definition(verdicts, code):
    from agent.commands.verify import exit_status
    from tools.verification.environment import Environment
    from tools.verification.run_log import DefinitionResult, VerificationRun

    results = [DefinitionResult(name=f"d{i}", op_type="t", passed=v == "verified", verdict=v, summary="s") for i, v in enumerate(verdicts)]
    environment = Environment(device="gpu", torch="2.11", python="3.12", platform="linux")
    run = VerificationRun(started_at="t", finished_at="t", mode="flashinfer", dataset="d", environment=environment, results=results)
    assert exit_status(run) == code


def test_the_table_names_the_api_used_what_flashinfer_checked_and_a_kept_status():
    from agent.commands.verify import render_table
    from tools.verification.environment import Environment
    from tools.verification.run_log import DefinitionResult, VerificationRun

    moe = DefinitionResult(
        name="moe_fp8_block_scale_ds_routing_topk8_ng1_kg1_e384_h7168_i2048", op_type="moe", passed=True, verdict="verified", summary="2 cases agree",
        fi_api="flashinfer.fused_moe.trtllm_fp8_block_scale_moe", api_used="flashinfer.gemm.fp8_blockscale_gemm_sm90", checked="experts: ...; routing: torch",
    )
    norm = DefinitionResult(name="rmsnorm_h4096", op_type="rmsnorm", passed=True, verdict="verified", summary="3 cases agree", fi_api="flashinfer.norm.rmsnorm", api_used="flashinfer.norm.rmsnorm")
    kept = DefinitionResult(name="gemm_n1_k1", op_type="gemm", passed=False, verdict="failed", summary="output 'C' differs", api_used="flashinfer.gemm.SegmentGEMMWrapper.run", status_note="status:verified kept: ...")
    environment = Environment(device="gpu", gpu_name="NVIDIA H200", compute_capability="9.0", torch="2.11", flashinfer="0.7.2.post1", python="3.12", platform="linux")
    table = render_table(VerificationRun(started_at="t", finished_at="t", mode="flashinfer", dataset="d", environment=environment, results=[moe, norm, kept]))
    assert "NVIDIA H200 (SM90)" in table
    assert "via flashinfer.gemm.fp8_blockscale_gemm_sm90 for fi_api flashinfer.fused_moe.trtllm_fp8_block_scale_moe" in table
    assert "FlashInfer checked: experts: ...; routing: torch" in table
    assert "via flashinfer.gemm.SegmentGEMMWrapper.run\n" in table and "status:verified kept" in table
    assert "via flashinfer.norm.rmsnorm" not in table
    assert table.endswith("total: 2 verified, 1 failed, 0 unverifiable")
