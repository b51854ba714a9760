"""Definitions built from FlashInfer's trace templates, normalised to dataset conventions."""

import ast

import pytest
from flashinfer_bench.data import Definition

from tools.definition_builder.builder import BuildContext, build_definition
from tools.definition_builder.normalize import normalize_template_definition
from tools.errors import DefinitionError
from tools.kernel_spec import KernelSpec

CONTEXT = BuildContext(model_slug="llama-3.1-8b", sglang_version="0.5.23")
ATTN = {"num_qo_heads": 32, "num_kv_heads": 8, "head_dim": 128}
KDA = {"num_q_heads": 32, "num_v_heads": 32, "head_dim": 128}

SPECS = [
    (KernelSpec(family="rmsnorm", axes={"hidden_size": 4096}), "rmsnorm_h4096", "rmsnorm"),
    (KernelSpec(family="fused_add_rmsnorm", axes={"hidden_size": 4096}), "fused_add_rmsnorm_h4096", "rmsnorm"),
    (KernelSpec(family="gemm", axes={"N": 6144, "K": 4096}), "gemm_n6144_k4096", "gemm"),
    (KernelSpec(family="gqa_paged_decode", axes={**ATTN, "page_size": 64}, stage="decode", tp=1), "gqa_paged_decode_h32_kv8_d128_ps64", "gqa_paged"),
    (KernelSpec(family="gqa_paged_prefill", axes={**ATTN, "page_size": 1}, stage="prefill", tp=1), "gqa_paged_prefill_causal_h32_kv8_d128_ps1", "gqa_paged"),
    (KernelSpec(family="gqa_ragged_prefill", axes=ATTN, stage="prefill", tp=1), "gqa_ragged_prefill_causal_h32_kv8_d128", "gqa_ragged"),
    (KernelSpec(family="top_k_sampling_from_probs", axes={"vocab_size": 128256}), "top_k_sampling_from_probs_v128256", "sampling"),
    (KernelSpec(family="top_p_sampling_from_probs", axes={"vocab_size": 128256}), "top_p_sampling_from_probs_v128256", "sampling"),
    (KernelSpec(family="top_k_top_p_sampling_from_probs", axes={"vocab_size": 128256}), "top_k_top_p_sampling_from_probs_v128256", "sampling"),
    (KernelSpec(family="kda_prefill", axes=KDA, stage="prefill", tp=1), "kda_prefill_qk32_v32_d128_k_last", "kda"),
    (KernelSpec(family="kda_decode", axes=KDA, stage="decode", tp=1), "kda_decode_qk32_v32_d128_k_last", "kda"),
]


@pytest.mark.parametrize("spec, name, op_type", SPECS, ids=[s[1] for s in SPECS])
def test_definition_follows_dataset_conventions(spec, name, op_type):
    d = build_definition(spec, CONTEXT)
    assert d["name"] == name and d["op_type"] == op_type
    # Loads unchanged with the ecosystem's own schema, and round-trips.
    loaded = Definition.model_validate(d)
    assert loaded.model_dump(mode="json", exclude_none=True, exclude_defaults=False)["name"] == name
    assert set(d) <= {"name", "description", "op_type", "tags", "axes", "constraints", "inputs", "outputs", "reference"}
    # The benchmark calls run(*inputs): the inputs are exactly run's parameters, in order.
    run = next(n for n in ast.parse(d["reference"]).body if isinstance(n, ast.FunctionDef) and n.name == "run")
    required = [a.arg for a in run.args.args[: len(run.args.args) - len(run.args.defaults)]]
    assert list(d["inputs"]) == required
    assert all(spec["dtype"] != "unknown" for spec in {**d["inputs"], **d["outputs"]}.values())
    assert not set(d["inputs"]) & set(d["outputs"])
    tags = set(d["tags"])
    assert "status:unverified" in tags and not any(t.startswith("status:verified") for t in tags)
    assert {"model:llama-3.1-8b", "sglang:0.5.23"} <= tags
    assert any(t.startswith("fi_api:flashinfer.") for t in tags)
    if spec.stage:
        assert f"stage:{spec.stage}" in tags and "tp:1" in tags
    for axis, value in spec.axes.items():
        assert d["axes"][axis] == {**d["axes"][axis], "type": "const", "value": value}


def test_paged_index_tensors_are_int32_and_runtime_switches_dropped():
    d = build_definition(SPECS[4][0], CONTEXT)
    assert {n: d["inputs"][n]["dtype"] for n in ("qo_indptr", "kv_indptr", "kv_indices")} == dict.fromkeys(("qo_indptr", "kv_indptr", "kv_indices"), "int32")
    assert "return_lse" not in d["inputs"]


def test_fused_add_rmsnorm_in_place_residual_is_not_an_output():
    d = build_definition(SPECS[1][0], CONTEXT)
    assert list(d["inputs"]) == ["hidden_states", "residual", "weight"]
    assert list(d["outputs"]) == ["output"]


def test_a_reference_needing_an_undeclared_input_is_rejected():
    raw = {
        "name": "toy_h8", "op_type": "toy", "axes": {"n": {"type": "var"}},
        "inputs": {"x": {"shape": ["n"], "dtype": "float32"}},
        "outputs": {"y": {"shape": ["n"], "dtype": "float32"}},
        "reference": "def _toy_reference(x, scale):\n    return x * scale\n",
    }
    with pytest.raises(DefinitionError, match="scale"):
        normalize_template_definition(raw)


def test_missing_axes_in_a_spec_are_reported():
    with pytest.raises(DefinitionError, match="hidden_size"):
        build_definition(KernelSpec(family="rmsnorm", axes={}), CONTEXT)
