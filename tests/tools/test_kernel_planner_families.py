"""Planning MLA, DSA, MoE, GDN and KDA models from their real SGLang code and public configs."""

import json

import pytest

from tools.definition_builder.builder import BuildContext, build_definition
from tools.kernel_planner import PlanOptions, plan_kernels
from tools.model_parser.inventory import ParamValue
from tools.model_registry.catalog import CATALOG_DIR

CONTEXT = BuildContext(model_slug="test")

# flashinfer-bench docs/model_coverage.mdx, "DeepSeek V3 / R1" (TP=8, EP=8): the official 14.
DEEPSEEK_V3_OFFICIAL = {
    "rmsnorm_h7168", "fused_add_rmsnorm_h7168", "rmsnorm_h1536", "rmsnorm_h512", "gemm_n256_k7168",
    "mla_ragged_prefill_causal_h16_qk192_vo128",
    "mla_paged_prefill_causal_h16_ckv512_kpe64_ps1", "mla_paged_prefill_causal_h16_ckv512_kpe64_ps64",
    "mla_paged_decode_h16_ckv512_kpe64_ps1", "mla_paged_decode_h16_ckv512_kpe64_ps64",
    "moe_fp8_block_scale_ds_routing_topk8_ng8_kg4_e32_h7168_i2048",
    "top_k_sampling_from_probs_v129280", "top_k_top_p_sampling_from_probs_v129280", "top_p_sampling_from_probs_v129280",
}


def config(slug):
    return json.loads((CATALOG_DIR / "configs" / f"{slug}.json").read_text())


def names(plan):
    return {build_definition(spec, CONTEXT)["name"] for spec in plan.specs}


def test_deepseek_v3_is_exactly_the_official_set_and_its_rope(parse):
    plan = plan_kernels(parse("deepseek-v3", tp=8, ep=8))
    # Beyond the official list: MLA rotates q_pe and k_pe (qk_rope_head_dim 64, GPT-J
    # pairs: SGLang interleaves unless the config sets rope_interleave false) with the rope
    # kernel before its attention kernels.
    assert names(plan) == DEEPSEEK_V3_OFFICIAL | {"rope_with_cos_sin_cache_gptj_style_d64_rd64"}
    assert plan.pending == []


@pytest.mark.parametrize("ep", [1, 8])
def test_kimi_k2_mla_heads_follow_tp_and_experts_follow_ep(parse, ep):
    cfg = config("kimi-k2")
    tp = 8
    found = names(plan_kernels(parse("kimi-k2", tp=tp, ep=ep)))
    heads = cfg["num_attention_heads"] // tp
    ckv, kpe = cfg["kv_lora_rank"], cfg["qk_rope_head_dim"]
    expected_attention = {f"mla_paged_{s}_h{heads}_ckv{ckv}_kpe{kpe}_ps{ps}" for s in ("decode", "prefill_causal") for ps in (1, 64)}
    expected_attention.add(f"mla_ragged_prefill_causal_h{heads}_qk{cfg['qk_nope_head_dim'] + kpe}_vo{cfg['v_head_dim']}")
    assert expected_attention <= found
    moe = (
        f"moe_fp8_block_scale_ds_routing_topk{cfg['num_experts_per_tok']}_ng{cfg['n_group']}_kg{cfg['topk_group']}"
        f"_e{cfg['n_routed_experts'] // ep}_h{cfg['hidden_size']}_i{cfg['moe_intermediate_size']}"
    )
    assert moe in found
    assert {f"rmsnorm_h{cfg['hidden_size']}", f"rmsnorm_h{cfg['q_lora_rank']}", f"rmsnorm_h{cfg['kv_lora_rank']}"} <= found
    assert f"top_k_sampling_from_probs_v{cfg['vocab_size']}" in found


def test_deepseek_v3_2_uses_dsa_instead_of_dense_mla(parse):
    cfg = config("deepseek-v3.2")
    found = names(plan_kernels(parse("deepseek-v3.2", tp=8, ep=8)))
    topk = cfg["index_topk"]
    assert f"dsa_topk_indexer_fp8_h{cfg['index_n_heads']}_d{cfg['index_head_dim']}_topk{topk}_ps64" in found
    assert {f"dsa_sparse_attention_h16_ckv512_kpe64_topk{topk}_ps{ps}" for ps in (1, 64)} <= found
    assert not any(n.startswith(("mla_paged", "mla_ragged")) for n in found)


def test_qwen3_moe_uses_renormalized_routing(parse):
    cfg = config("qwen3-30b-a3b")
    found = names(plan_kernels(parse("qwen3-30b-a3b")))
    assert f"moe_fp8_block_scale_renorm_topk{cfg['num_experts_per_tok']}_e{cfg['num_experts']}_h{cfg['hidden_size']}_i{cfg['moe_intermediate_size']}" in found
    assert f"gemm_n{cfg['num_experts']}_k{cfg['hidden_size']}" in found  # the router
    # Every layer is sparse: the dense MLP's GEMMs must not appear.
    assert f"gemm_n{2 * cfg['intermediate_size']}_k{cfg['hidden_size']}" not in found


def test_mixtral_softmax_top2_and_llama4_top1_routing(parse):
    mixtral = config("mixtral-8x7b")
    found = names(plan_kernels(parse("mixtral-8x7b", tp=2)))
    assert f"moe_fp8_block_scale_renorm_topk2_e{mixtral['num_local_experts']}_h{mixtral['hidden_size']}_i{mixtral['intermediate_size']}" in found
    llama4 = config("llama-4-scout-17b-16e")["text_config"]
    found = names(plan_kernels(parse("llama-4-scout-17b-16e", tp=8)))
    assert f"moe_fp8_block_scale_llama4_routing_topk1_e{llama4['num_local_experts']}_h{llama4['hidden_size']}_i{llama4['intermediate_size']}" in found


@pytest.mark.parametrize("tp, ep", [(2, 1), (4, 4)])
def test_qwen3_next_hybrid_yields_gdn_full_attention_and_moe(parse, tp, ep):
    cfg = config("qwen3-next-80b-a3b")
    inventory = parse("qwen3-next-80b-a3b", tp=tp, ep=ep)
    interval = cfg["full_attention_interval"]
    full = [i for i, c in enumerate(inventory.layer_classes) if "Attention" in c and "Linear" not in c]
    assert full == [i for i in range(cfg["num_hidden_layers"]) if (i + 1) % interval == 0]
    found = names(plan_kernels(inventory))
    qk, v = cfg["linear_num_key_heads"] // tp, cfg["linear_num_value_heads"] // tp
    d = cfg["linear_key_head_dim"]
    assert {f"gdn_{m}_qk{qk}_v{v}_d{d}_k_last" for m in ("prefill", "decode", "mtp")} <= found
    h, kv = cfg["num_attention_heads"] // tp, max(1, cfg["num_key_value_heads"] // tp)
    assert f"gqa_ragged_prefill_causal_h{h}_kv{kv}_d{cfg['head_dim']}" in found
    assert f"moe_fp8_block_scale_renorm_topk{cfg['num_experts_per_tok']}_e{cfg['num_experts'] // ep}_h{cfg['hidden_size']}_i{cfg['moe_intermediate_size']}" in found
    # Qwen3-Next normalises with (1 + weight): Gemma-style RMSNorm, not plain RMSNorm.
    assert f"gemma_fused_add_rmsnorm_h{cfg['hidden_size']}" in found and f"rmsnorm_h{cfg['hidden_size']}" not in found


def test_include_quantized_adds_fp8_gemms_for_quantized_checkpoints(parse):
    inventory = parse("deepseek-v3", tp=8, ep=8)
    plain = names(plan_kernels(inventory))
    quantized = names(plan_kernels(inventory, PlanOptions(include_quantized=True)))
    added = quantized - plain
    assert added and all(n.startswith("gemm_fp8_nt_groupwise_") for n in added)
    assert "gemm_fp8_nt_groupwise_n2112_k7168" in added  # q_a + kv_a projection, 1536 + 512 + 64


def test_a_component_no_family_covers_is_pending_with_its_location(parse):
    plan = plan_kernels(parse("kimi-linear-48b-a3b", tp=4))
    batched = [p for p in plan.pending if p.class_name == "ColumnParallelBatchedLinear"]
    assert batched and "no kernel mapping" in batched[0].reason
    assert batched[0].location.startswith("sglang/srt/models/kimi_linear.py:")


@pytest.mark.parametrize("tp", [4, 8])
def test_kimi_linear_kda_layers_run_kda_prefill_and_decode_with_heads_split_by_tp(parse, tp):
    cfg = config("kimi-linear-48b-a3b")
    linear = cfg["linear_attn_config"]
    inventory = parse("kimi-linear-48b-a3b", tp=tp)
    [kda] = inventory.of_kind("attention.linear")
    heads = linear["num_heads"] // tp
    # What the rule reads, as the parser records it from KimiDeltaAttention's constructor.
    assert kda.owner_class == "KimiDeltaAttention" and kda.layers == [n - 1 for n in linear["kda_layers"]]
    assert {p: kda.value(p) for p in ("num_q_heads", "num_k_heads", "num_v_heads")} == dict.fromkeys(("num_q_heads", "num_k_heads", "num_v_heads"), heads)
    assert kda.value("head_k_dim") == kda.value("head_v_dim") == linear["head_dim"] and kda.params["lower_bound"].value is None
    plan = plan_kernels(inventory)
    specs = sorted((s for s in plan.specs if s.family.startswith("kda_")), key=lambda s: s.family)
    assert [(s.family, s.stage, s.tp) for s in specs] == [("kda_decode", "decode", tp), ("kda_prefill", "prefill", tp)]
    assert all(s.axes == {"num_q_heads": heads, "num_v_heads": heads, "head_dim": linear["head_dim"]} for s in specs)
    assert all(s.layers == kda.layers for s in specs)
    assert {f"kda_{stage}_qk{heads}_v{heads}_d{linear['head_dim']}_k_last" for stage in ("prefill", "decode")} <= names(plan)
    assert not [p for p in plan.pending if p.class_name == "RadixLinearAttention"]
    decode_only = plan_kernels(inventory, PlanOptions(stages=["decode"]))
    assert [s.family for s in decode_only.specs if s.family.startswith("kda_")] == ["kda_decode"]


def test_linear_attention_the_rules_cannot_size_or_do_not_cover_stays_pending(parse):
    inventory = parse("kimi-linear-48b-a3b", tp=4)
    [kda] = inventory.of_kind("attention.linear")

    def changed(**params):
        return kda.model_copy(update={"params": {**kda.params, **params}})

    cases = {
        "KDA head counts or dims could not be resolved": changed(head_k_dim=ParamValue(unknown=True)),
        "lower-bounded gate (lower_bound -5.0)": changed(lower_bound=ParamValue(value=-5.0)),
        "lower-bounded gate (lower_bound unresolved)": changed(lower_bound=ParamValue(unknown=True)),
        "key dim 128 and value dim 256": changed(head_v_dim=ParamValue(value=256)),
        # SGLang's other KDA modules set the gate's lower bound after construction.
        "Glm5NextLinearAttention, which is not a Gated Delta Net or a KimiDeltaAttention layer": kda.model_copy(update={"owner_class": "Glm5NextLinearAttention"}),
    }
    for reason, component in cases.items():
        plan = plan_kernels(inventory.model_copy(update={"components": [component], "unknown": []}))
        assert plan.specs == [] and len(plan.pending) == 1, reason
        assert reason in plan.pending[0].reason and plan.pending[0].location == str(kda.location)


def test_kimi_linear_moe_reads_the_expert_count_its_config_class_derives(parse):
    # kimi_linear.py asks for config.n_routed_experts, which only SGLang's KimiLinearConfig
    # sets (from num_experts); config.json has num_experts.
    found = names(plan_kernels(parse("kimi-linear-48b-a3b", tp=4)))
    experts = config("kimi-linear-48b-a3b")["num_experts"]
    assert f"moe_fp8_block_scale_ds_routing_topk8_ng1_kg1_e{experts}_h2304_i1024" in found


def test_grouped_routing_without_a_correction_bias_is_not_deepseek_v3_routing(parse):
    # DeepSeek V2 Lite: softmax scores, one group, no bias, no renormalisation. SGLang runs
    # that router itself and calls the routed kernel, so no ds_routing definition applies.
    settings = config("deepseek-v2-lite")
    assert (settings["scoring_func"], settings["topk_method"], settings["norm_topk_prob"]) == ("softmax", "greedy", False)
    plan = plan_kernels(parse("deepseek-v2-lite"))
    assert not [s for s in plan.specs if s.family.startswith("moe")]
    [experts] = [p for p in plan.pending if p.path.endswith("mlp.experts")]
    assert "is not DeepSeek-V3 routing" in experts.reason and "routed FP8 MoE kernel" in experts.reason
