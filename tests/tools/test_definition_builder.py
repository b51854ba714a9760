"""Definitions built from FlashInfer's trace templates, normalised to dataset conventions."""

import ast

import pytest
from flashinfer_bench.data import Definition

from tools.definition_builder.builder import BuildContext, build_definition
from tools.definition_builder.normalize import normalize_template_definition
from tools.errors import DefinitionError
from tools.kernel_spec import KernelSpec

CONTEXT = BuildContext(model_slug="llama-3.1-8b")
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
    assert "model:llama-3.1-8b" in tags and not any(t.startswith(("sglang:", "llm_drafted")) for t in tags)
    assert any(t.startswith("fi_api:flashinfer.") for t in tags) == (op_type != "gemm")
    if spec.stage:
        assert f"stage:{spec.stage}" in tags and "tp:1" in tags
    for axis, value in spec.axes.items():
        assert d["axes"][axis] == {**d["axes"][axis], "type": "const", "value": value}


TAGGED = [
    # (spec, the tags in the dataset's order; the files they follow)
    (  # gqa_paged_decode_h32_kv8_d128_ps64.json
        KernelSpec(family="gqa_paged_decode", axes={**ATTN, "page_size": 64}, stage="decode", tp=1),
        ["stage:decode", "status:unverified", "model:llama-3.1-8b", "fi_api:flashinfer.decode.BatchDecodeWithPagedKVCacheWrapper", "tp:1"],
    ),
    (  # fused_add_rmsnorm_h4096.json: no tp: on norms, the `fused` tag
        KernelSpec(family="fused_add_rmsnorm", axes={"hidden_size": 4096}, profile_tps=[1]),
        ["status:unverified", "model:llama-3.1-8b", "fused", "fi_api:flashinfer.norm.fused_add_rmsnorm"],
    ),
    (  # gemm_n6144_k4096.json: status and model only
        KernelSpec(family="gemm", axes={"N": 6144, "K": 4096}, profile_tps=[1, 2]),
        ["status:unverified", "model:llama-3.1-8b"],
    ),
    (  # moe_fp8_block_scale_ds_routing_topk8_ng1_kg1_e48_h7168_i2048.json: ep before tp
        KernelSpec(
            family="moe_fp8_block_scale",
            axes={"num_experts": 384, "top_k": 8, "n_group": 1, "topk_group": 1, "num_local_experts": 48, "hidden_size": 7168, "intermediate_size": 2048},
            options={"routing": "deepseek_v3", "routed_scaling_factor": 2.827},
            ep=8,
            profile_tps=[8],
        ),
        ["status:unverified", "model:llama-3.1-8b", "quantization:float8_e4m3fn", "fi_api:flashinfer.fused_moe.trtllm_fp8_block_scale_moe", "ep:8", "tp:8"],
    ),
    (  # gdn_mtp_qk4_v8_d128_k_last.json: only stage:mtp, no fi_api
        KernelSpec(family="gdn_mtp", axes={"num_q_heads": 4, "num_v_heads": 8, "head_size": 128}, stage="decode", tp=4),
        ["stage:mtp", "status:unverified", "model:llama-3.1-8b", "layout:k-last", "tp:4"],
    ),
    (  # dsa_topk_indexer_fp8_h64_d128_topk2048_ps64.json: no fi_api, no tp
        KernelSpec(family="dsa_topk_indexer", axes={"num_index_heads": 64, "index_head_dim": 128, "topk": 2048, "page_size": 64}, profile_tps=[8]),
        ["stage:indexer", "status:unverified", "model:llama-3.1-8b", "sparse:topk", "quant:fp8"],
    ),
    (  # dsa_sparse_attention_h16_ckv512_kpe64_topk2048_ps1.json: no stage
        KernelSpec(
            family="dsa_sparse_attention", axes={"num_qo_heads": 16, "head_dim_ckv": 512, "head_dim_kpe": 64, "topk": 2048, "page_size": 1}, tp=8
        ),
        ["status:unverified", "model:llama-3.1-8b", "sparse:topk", "fi_api:flashinfer.decode.trtllm_batch_decode_with_kv_cache_mla", "tp:8"],
    ),
]


@pytest.mark.parametrize("spec, tags", TAGGED, ids=[t[0].family for t in TAGGED])
def test_tags_are_the_datasets_in_its_order(spec, tags):
    assert build_definition(spec, CONTEXT)["tags"] == tags


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
