"""FlashInfer bindings and the baseline solutions made of them (CPU: no kernel runs here).

Every definition the builder makes has exactly one binding (or a reason it has none); the
binding's kernel module takes the definition's inputs in order and calls its API (the
definition's own, or the SM90 kernel standing in for it); and its baseline solution
validates under flashinfer-bench's schema and builds with flashinfer-bench's own Python
builder. That the kernel modules import nothing from this project is tested with the lookup.
"""

import ast
import json

import pytest

from tests.tools.verification.definitions import SMALL_GQA, build
from tools.definition_builder.families import FAMILIES
from tools.verification.bindings import api_name, binding_for, fi_api_of
from tools.verification.environment import Environment
from tools.verification.solutions import AUTHOR, baseline_solution, solution_path, write_baseline_solution

MLA = {"num_qo_heads": 16, "head_dim_ckv": 512, "head_dim_kpe": 64}
GDN = {"num_q_heads": 4, "num_v_heads": 8, "head_size": 128}
MOE = {"num_experts": 16, "top_k": 4, "n_group": 4, "topk_group": 2, "num_local_experts": 8, "hidden_size": 256, "intermediate_size": 128}
AXES = {
    "rmsnorm": {"hidden_size": 64},
    "fused_add_rmsnorm": {"hidden_size": 64},
    "gemma_rmsnorm": {"hidden_size": 64},
    "gemma_fused_add_rmsnorm": {"hidden_size": 64},
    "layernorm": {"hidden_size": 64},
    "gemm": {"N": 48, "K": 32},
    "gqa_paged_decode": {**SMALL_GQA, "page_size": 16},
    "gqa_paged_prefill": {**SMALL_GQA, "page_size": 16},
    "gqa_ragged_prefill": SMALL_GQA,
    "top_k_sampling_from_probs": {"vocab_size": 100},
    "top_p_sampling_from_probs": {"vocab_size": 100},
    "top_k_top_p_sampling_from_probs": {"vocab_size": 100},
    "mla_paged_decode": {**MLA, "page_size": 64},
    "mla_paged_prefill": {**MLA, "page_size": 1},
    "mla_ragged_prefill": {"num_qo_heads": 16, "qk_dim": 192, "vo_dim": 128},
    "rope_with_cos_sin_cache": {"head_size": 64, "rotary_dim": 32},
    "gemm_fp8_block_scale": {"N": 256, "K": 512},
    "dsa_sparse_attention": {"num_qo_heads": 16, "head_dim_ckv": 512, "head_dim_kpe": 64, "topk": 2048, "page_size": 64},
    "dsa_topk_indexer": {"num_index_heads": 64, "index_head_dim": 128, "topk": 2048, "page_size": 64},
    "moe_fp8_block_scale": MOE,
    "gdn_decode": GDN,
    "gdn_mtp": GDN,
    "gdn_prefill": GDN,
    "kda_prefill": {"num_q_heads": 2, "num_v_heads": 4, "head_dim": 128},
    "kda_decode": {"num_q_heads": 2, "num_v_heads": 4, "head_dim": 128},
}
# Families whose definitions differ by an option as well as their axes.
OPTIONS = {
    "rope_with_cos_sin_cache": [{"is_neox": True}, {"is_neox": False}],
    "moe_fp8_block_scale": [{"routing": "deepseek_v3", "routed_scaling_factor": 2.5}, {"routing": "renormalize"}],
}
ENVIRONMENT = Environment(device="gpu", gpu_name="NVIDIA H100 80GB HBM3", torch="2.11.0", flashinfer="0.7.2.post1", python="3.12", platform="linux")


def all_definitions():
    for family, axes in AXES.items():
        for options in OPTIONS.get(family, [{}]):
            yield pytest.param(build(family, options, **axes), id="-".join([family, *map(str, options.values())]))


def test_every_builder_family_has_a_binding_case_here():
    assert set(AXES) == set(FAMILIES)


def run_parameters(source: str, count: int) -> list[str]:
    """The first `count` parameters of `run`, which must cover all its required ones."""
    run = next(node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef) and node.name == "run")
    assert len(run.args.args) - len(run.args.defaults) <= count
    return [arg.arg for arg in run.args.args][:count]


@pytest.mark.parametrize("definition", list(all_definitions()))
def test_each_definition_has_one_binding_whose_run_takes_its_inputs(definition):
    binding = binding_for(definition)
    assert binding is not None, f"no binding for {fi_api_of(definition)}"
    source = binding.source()
    assert run_parameters(source, len(definition["inputs"])) == list(definition["inputs"])
    assert api_name(binding.fi_api) in source, f"{binding.kernel} does not call {binding.fi_api}"
    if binding.stands_in_for(definition) is None and fi_api_of(definition):
        assert api_name(fi_api_of(definition)) in source


@pytest.mark.parametrize("family, axes", [("gqa_paged_decode", {**SMALL_GQA, "page_size": 16}), ("mla_paged_prefill", {**MLA, "page_size": 64})])
def test_paged_definitions_with_a_last_page_length_get_the_kernels_that_read_it(family, axes):
    # The page-size-1 kernels plan every page full; page size > 1 takes kv_last_page_len.
    definition = build(family, **axes)
    assert "kv_last_page_len" in definition["inputs"] and binding_for(definition).kernel.endswith("_lpl")
    assert binding_for(build(family, **{**axes, "page_size": 1})).kernel in ("gqa_paged_decode", "mla_paged_prefill")


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
    assert api_name(binding.fi_api) in source
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
