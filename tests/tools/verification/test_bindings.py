"""FlashInfer bindings and the baseline solutions made of them (CPU: no kernel runs here).

Every definition the builder makes has exactly one binding; the binding's kernel module
takes the definition's inputs in order, names the API of the definition's `fi_api` tag,
imports nothing from this project; and its baseline solution validates under
flashinfer-bench's schema and builds with flashinfer-bench's own Python builder.
"""

import ast
import json

import pytest

from tests.tools.verification.definitions import CONTEXT, SMALL_GQA, build
from tools.definition_builder.builder import build_definition
from tools.definition_builder.families import FAMILIES
from tools.kernel_spec import KernelSpec
from tools.verification.bindings import binding_for, fi_api_of, registered_bindings
from tools.verification.environment import Environment
from tools.verification.solutions import AUTHOR, baseline_solution, solution_path, write_baseline_solution

MLA = {"num_qo_heads": 16, "head_dim_ckv": 512, "head_dim_kpe": 64}
AXES = {
    "rmsnorm": {"hidden_size": 64},
    "fused_add_rmsnorm": {"hidden_size": 64},
    "gemma_rmsnorm": {"hidden_size": 64},
    "gemma_fused_add_rmsnorm": {"hidden_size": 64},
    "layernorm": {"hidden_size": 64},
    "gqa_paged_decode": {**SMALL_GQA, "page_size": 1},
    "gqa_paged_prefill": {**SMALL_GQA, "page_size": 1},
    "gqa_ragged_prefill": SMALL_GQA,
    "top_k_sampling_from_probs": {"vocab_size": 100},
    "top_p_sampling_from_probs": {"vocab_size": 100},
    "top_k_top_p_sampling_from_probs": {"vocab_size": 100},
    "mla_paged_decode": {**MLA, "page_size": 1},
    "mla_paged_prefill": {**MLA, "page_size": 1},
    "mla_ragged_prefill": {"num_qo_heads": 16, "qk_dim": 192, "vo_dim": 128},
    "rope_with_cos_sin_cache": {"head_size": 64, "rotary_dim": 32},
}
# Families whose definitions differ by an option as well as their axes.
OPTIONS = {"rope_with_cos_sin_cache": [{"is_neox": True}, {"is_neox": False}]}
# Builder families with no FlashInfer binding yet: verification reports them as unverifiable.
# GDN and KDA: FlashInfer's kernels for them are CuTe DSL (cutlass-dsl, not installed on
# the H100 used for GPU checks), and SGLang runs its FlashInfer KDA path on SM100+ only.
# GEMM: the dataset's GEMMs are float16 with B [N, K]; FlashInfer 0.7.2 has no float16 GEMM
# API (its mm_bf16 binding served the former bf16 [K, N] definitions).
UNBOUND = {
    "gemm", "gemm_fp8_block_scale", "dsa_sparse_attention", "dsa_topk_indexer", "moe_fp8_block_scale",
    "gdn_decode", "gdn_mtp", "gdn_prefill", "kda_prefill", "kda_decode",
}
ENVIRONMENT = Environment(device="gpu", gpu_name="NVIDIA H100 80GB HBM3", torch="2.11.0", flashinfer="0.7.2.post1", python="3.12", platform="linux")


def all_definitions():
    for family, axes in AXES.items():
        for options in OPTIONS.get(family, [{}]):
            yield pytest.param(build(family, options, **axes), id="-".join([family, *map(str, options.values())]))


def test_every_builder_family_is_bound_or_listed_as_not_yet():
    assert set(AXES) | UNBOUND == set(FAMILIES)
    assert not set(AXES) & UNBOUND


def run_parameters(source: str) -> list[str]:
    run = next(node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef) and node.name == "run")
    return [arg.arg for arg in run.args.args]


@pytest.mark.parametrize("definition", list(all_definitions()))
def test_each_definition_has_one_binding_whose_run_takes_its_inputs(definition):
    binding = binding_for(definition)
    assert binding is not None, f"no binding for {fi_api_of(definition)}"
    source = binding.source()
    assert run_parameters(source) == list(definition["inputs"])
    api_name = fi_api_of(definition).split(".")[-2 if fi_api_of(definition).endswith(".run") else -1]
    assert api_name in source, f"{binding.kernel} does not call {api_name}"


def test_kernel_modules_are_standalone():
    for binding in registered_bindings():
        tree = ast.parse(binding.source())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert imported <= {"flashinfer", "torch", "importlib"}, (binding.kernel, imported)


def test_definitions_without_a_binding_get_none():
    axes = {"num_experts": 8, "top_k": 2, "num_local_experts": 8, "hidden_size": 256, "intermediate_size": 128}
    moe = build_definition(KernelSpec(family="moe_fp8_block_scale", axes=axes, options={"routing": "renormalize"}), CONTEXT)
    assert fi_api_of(moe) and binding_for(moe) is None


@pytest.mark.parametrize("family, axes", [("gqa_paged_decode", {**SMALL_GQA, "page_size": 16}), ("mla_paged_prefill", {**MLA, "page_size": 64})])
def test_paged_definitions_with_a_last_page_length_are_not_bound_by_the_whole_page_kernels(family, axes):
    # Their kernels plan every page full; the page-size > 1 definitions take kv_last_page_len.
    definition = build(family, **axes)
    assert "kv_last_page_len" in definition["inputs"] and binding_for(definition) is None


@pytest.mark.parametrize("definition", list(all_definitions()))
def test_baseline_solution_validates_and_builds_with_flashinfer_bench(definition, tmp_path, monkeypatch):
    from flashinfer_bench.compile.builders.python_builder import PythonBuilder
    from flashinfer_bench.data import Definition, Solution

    binding = binding_for(definition)
    solution = Solution.model_validate(baseline_solution(definition, binding, ENVIRONMENT))
    assert solution.author == AUTHOR and solution.definition == definition["name"]
    assert solution.spec.language == "python" and not solution.spec.destination_passing_style
    source = solution.get_entry_source().content
    assert source == binding.source()
    compile(source, "main.py", "exec")
    assert binding.fi_api.split(".")[-2 if binding.fi_api.endswith(".run") else -1] in source
    assert "0.7.2.post1" in solution.spec.dependencies[0] and "H100" in solution.description
    monkeypatch.setenv("FIB_CACHE_PATH", str(tmp_path / "fib-cache"))
    runnable = PythonBuilder().build(Definition.model_validate(definition), solution)
    assert callable(runnable)


def test_baseline_solution_is_written_where_flashinfer_bench_looks(tmp_path):
    definition = build("gqa_ragged_prefill", **SMALL_GQA)
    path = write_baseline_solution(tmp_path, definition, binding_for(definition), ENVIRONMENT)
    name = definition["name"]
    # The validator's four parts: solutions/{author}/{op_type}/{definition}/{solution}.json, stem == solution name.
    assert path == solution_path(tmp_path, definition) == tmp_path / "solutions" / "baseline" / "gqa_ragged" / name / f"{name}_flashinfer_baseline.json"
    assert path.stem == json.loads(path.read_text())["name"]
    assert json.loads(path.read_text())["spec"]["entry_point"] == "main.py::run"
