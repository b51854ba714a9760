"""Finding a definition's binding from the definition alone, over the 156 official definitions.

The official interfaces come from the transcribed facts (`evals/ground_truth/signatures.json`,
written as Definition files by `evals/dataset_fixture.py`): names, op types, tags, input
names and dtypes as flashinfer-bench@e489a246 has them. Every one must resolve to a
binding or to an explicit reason; none may fail for want of a binding where an SM90
kernel computes its math.
"""

import ast
import json
from collections import Counter

import pytest

from evals.dataset_fixture import official_signatures, write_fixture
from evals.truth import GroundTruth
from tools.verification.bindings import Binding, api_name, fi_api_of, registered_bindings, render_constants
from tools.verification.bindings.lookup import resolve
from tools.verification.bindings.moe import fused_routing_refusal


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    root = tmp_path_factory.mktemp("official")
    paths = write_fixture(root, GroundTruth.load().signatures)
    return {name: json.loads(path.read_text()) for name, path in paths.items()}


def test_the_fixture_is_the_whole_official_dataset(official):
    assert len(official) == 156 == len(official_signatures(GroundTruth.load().signatures))


@pytest.mark.parametrize(
    "spelling, name",
    [
        ("flashinfer.prefill.BatchPrefillWithPagedKVCacheWrapper", "BatchPrefillWithPagedKVCacheWrapper"),
        ("flashinfer.BatchPrefillWithPagedKVCacheWrapper", "BatchPrefillWithPagedKVCacheWrapper"),
        ("flashinfer.prefill.BatchPrefillWithPagedKVCacheWrapper.run", "BatchPrefillWithPagedKVCacheWrapper"),
        ("fi_api:flashinfer.mla._core.BatchMLAPagedAttentionWrapper.run", "BatchMLAPagedAttentionWrapper"),
        ("flashinfer.gdn.gated_delta_rule_decode", "gated_delta_rule_decode"),
        ("flashinfer.gdn_decode.gated_delta_rule_decode", "gated_delta_rule_decode"),
        ("flashinfer.gemm.gemm_base.mm_bf16", "mm_bf16"),
    ],
)
def test_an_api_is_named_the_same_whatever_module_path_spells_it(spelling, name):
    assert api_name(spelling) == name


def by_binding(official):
    counts = Counter()
    for definition in official.values():
        resolution = resolve(definition)
        counts[resolution.binding.name if resolution.binding else "unverifiable"] += 1
    return counts


def test_every_official_definition_resolves_to_a_binding_or_a_reason(official):
    unbound = {name: resolve(d).reason for name, d in official.items() if resolve(d).binding is None}
    # What cannot run on Hopper at all: FP4 MoE (5 + 5 routed) and FP8 per-tensor MoE (3),
    # TRT-LLM-gen kernels for SM100/SM120.
    assert len(unbound) == 13, unbound
    assert all(name.startswith(("trtllm_fp4_block_scale", "trtllm_fp8_per_tensor_scale_moe")) for name in unbound)
    assert all("SM100/SM103 and SM120" in reason for reason in unbound.values())
    assert all(reason.startswith(("trtllm_fp4_block_scale_moe:", "trtllm_fp4_block_scale_routed_moe:", "trtllm_fp8_per_tensor_scale_moe:")) for reason in unbound.values())


def test_each_family_of_the_dataset_gets_its_binding(official):
    counts = by_binding(official)
    # Counts from the official file list: 32 GEMMs (no tag), 17 paged decode (9 at page size 1,
    # 8 at 64), 20 paged prefill (10 + 10), 9 GQA ragged, 6 MLA paged, 2 MLA ragged, 3 + 3 + 3
    # GDN, 3 + 3 FP8 block-scale MoE, 3 DSA, 2 Mamba, 15 RMSNorm, 1 rope, 21 sampling.
    assert counts["gemm_nt_segment"] == 32
    assert counts["gqa_paged_decode"] == 9 and counts["gqa_paged_decode_lpl"] == 8
    assert counts["gqa_paged_prefill_causal"] == 10 and counts["gqa_paged_prefill_causal_lpl"] == 10
    assert counts["gqa_ragged_prefill_causal"] == 9
    assert counts["mla_paged_decode"] + counts["mla_paged_decode_lpl"] + counts["mla_paged_prefill_causal"] + counts["mla_paged_prefill_causal_lpl"] == 6
    assert counts["mla_ragged_prefill_causal"] == 2
    assert counts["gdn_decode"] == counts["gdn_mtp"] == counts["gdn_prefill"] == 3
    assert counts["moe_fp8_block_scale_ds_routing_sm90"] == counts["moe_fp8_block_scale_renorm_sm90"] == 3
    assert counts["dsa_sparse_attention_mla_ps1"] == 2 and counts["dsa_topk_indexer"] == 1
    assert counts["mamba_ssu"] == 2
    assert counts["rmsnorm"] + counts["fused_add_rmsnorm"] == 15 and counts["rope_with_cos_sin_cache_neox"] == 1
    assert sum(counts[f"{kind}_sampling_from_probs"] for kind in ("top_k", "top_p", "top_k_top_p")) == 21
    assert sum(counts.values()) == 156


def test_untagged_definitions_are_found_by_op_type_and_inputs(official):
    untagged = {name: d for name, d in official.items() if fi_api_of(d) is None}
    assert len(untagged) == 36
    found = {resolve(d).matched_by for d in untagged.values()}
    assert found == {"op type and inputs"}


def test_both_spellings_of_the_paged_prefill_wrapper_reach_the_same_binding(official):
    spelled = official["gqa_paged_prefill_causal_h32_kv4_d128_ps1"]
    assert fi_api_of(spelled) == "flashinfer.BatchPrefillWithPagedKVCacheWrapper"
    assert resolve(spelled).binding.name == resolve(official["gqa_paged_prefill_causal_h32_kv8_d128_ps1"]).binding.name


def test_the_dsa_files_tagged_with_the_trtllm_mla_decode_get_the_mla_stand_in(official):
    definition = official["dsa_sparse_attention_h16_ckv512_kpe64_topk2048_ps1"]
    binding = resolve(definition).binding
    assert binding.stands_in_for(definition) == "flashinfer.decode.trtllm_batch_decode_with_kv_cache_mla"
    assert "BatchMLAPagedAttentionWrapper" in binding.fi_api


def test_a_tagged_api_whose_bindings_take_other_inputs_says_so(official):
    definition = dict(official["gqa_paged_decode_h32_kv8_d128_ps64"])
    definition["inputs"] = {k: v for k, v in definition["inputs"].items() if k != "sm_scale"}
    resolution = resolve(definition)
    assert resolution.binding is None
    assert "takes these inputs" in resolution.reason and "kv_last_page_len" in resolution.reason


def test_an_unknown_op_type_without_a_tag_is_unverifiable_with_the_reason():
    definition = {"name": "mystery_op", "op_type": "mystery", "tags": [], "axes": {}, "inputs": {"x": {"shape": None, "dtype": "float32"}}, "outputs": {}}
    assert resolve(definition).reason == "no fi_api tag, and no binding serves op type mystery"


@pytest.mark.parametrize("name", ["gemm_n128_k2048", "gqa_paged_decode_h32_kv8_d128_ps64", "moe_fp8_block_scale_ds_routing_topk8_ng8_kg4_e32_h7168_i2048", "gdn_mtp_qk4_v8_d128_k_last"])
def test_the_kernel_run_takes_the_definition_inputs_in_order(official, name):
    binding = resolve(official[name]).binding
    tree = ast.parse(binding.source())
    run = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "run")
    params = [a.arg for a in run.args.args]
    assert params[: len(official[name]["inputs"])] == list(official[name]["inputs"])


def test_moe_routing_constants_come_from_the_name_and_are_written_into_the_shipped_source(official):
    kimi = resolve(official["moe_fp8_block_scale_ds_routing_topk8_ng1_kg1_e384_h7168_i2048"]).binding
    deepseek = resolve(official["moe_fp8_block_scale_ds_routing_topk8_ng8_kg4_e32_h7168_i2048"]).binding
    qwen = resolve(official["moe_fp8_block_scale_renorm_topk10_e128_h2048_i512"]).binding
    assert (kimi.values["TOP_K"], kimi.values["N_GROUP"], kimi.values["TOPK_GROUP"]) == (8, 1, 1)
    assert (deepseek.values["N_GROUP"], deepseek.values["TOPK_GROUP"]) == (8, 4) and qwen.values["TOP_K"] == 10
    # fused_topk_deepseek refused Kimi K2's routing on the H200: "topk_group * n_group (1) must be >= topk (8)".
    assert kimi.values["ROUTING_KERNEL"] == "torch" and "not checked against FlashInfer" in kimi.checked_text()
    assert deepseek.values["ROUTING_KERNEL"] == "fused_topk_deepseek" and "routing: fused_topk_deepseek" in deepseek.checked_text()
    source = kimi.source()
    assert "TOP_K = 8\n" in source and "N_GROUP = 1\n" in source and "ROUTING_KERNEL = 'torch'\n" in source
    compile(source, "main.py", "exec")


@pytest.mark.parametrize(
    "experts, n_group, topk_group, top_k, refused",
    [(256, 8, 4, 8, False), (384, 1, 1, 8, True), (256, 8, 4, 10, True), (512, 8, 4, 8, True), (384, 1, 8, 8, True), (128, 1, 8, 8, True)],
)
def test_fused_routing_refuses_what_flashinfer_refuses(experts, n_group, topk_group, top_k, refused):
    assert (fused_routing_refusal(experts, n_group, topk_group, top_k) is not None) == refused


def test_constants_render_only_into_declared_lines():
    assert render_constants("TOPK = None  # filled in\nx = 1\n", {"TOPK": 2048, "_note": "ignored"}) == "TOPK = 2048\nx = 1\n"
    with pytest.raises(ValueError, match="no `K = None` line"):
        render_constants("x = 1\n", {"K": 1})


def test_a_binding_that_cannot_run_here_says_why():
    dsl = Binding(name="t", fi_api="flashinfer.x.y", kernel="rmsnorm", op_type="t", requires=("no_such_package_for_this_test",))
    assert "needs no_such_package_for_this_test" in dsl.unavailable_reason((9, 0))
    hopper = Binding(name="t", fi_api="flashinfer.gemm.fp8_blockscale_gemm_sm90", kernel="rmsnorm", op_type="t", compute_capabilities=((9, 0),))
    assert hopper.unavailable_reason((9, 0)) is None
    assert hopper.unavailable_reason((10, 0)) == "flashinfer.gemm.fp8_blockscale_gemm_sm90 runs on SM90 only; this GPU is SM100"


def test_kernel_modules_are_standalone():
    for binding in registered_bindings():
        tree = ast.parse(binding.source_path.read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert imported <= {"flashinfer", "torch", "importlib"}, (binding.kernel, imported)
