"""Planning kernels from real inventories: names follow the dataset's conventions."""

import json

import pytest

from tools.definition_builder.builder import BuildContext, build_definition
from tools.kernel_planner import PlanOptions, plan_kernels
from tools.model_registry.catalog import CATALOG_DIR

CONTEXT = BuildContext(model_slug="test")

# flashinfer-bench docs/model_coverage.mdx, "Llama 3.1 8B": the official definition set.
LLAMA_3_1_8B_OFFICIAL = {
    "rmsnorm_h4096",
    "fused_add_rmsnorm_h4096",
    "gemm_n6144_k4096",
    "gemm_n4096_k4096",
    "gemm_n28672_k4096",
    "gemm_n4096_k14336",
    "gqa_paged_prefill_causal_h32_kv8_d128_ps1",
    "gqa_paged_prefill_causal_h32_kv8_d128_ps64",
    "gqa_paged_decode_h32_kv8_d128_ps1",
    "gqa_paged_decode_h32_kv8_d128_ps64",
    "gqa_ragged_prefill_causal_h32_kv8_d128",
    "top_k_sampling_from_probs_v128256",
    "top_k_top_p_sampling_from_probs_v128256",
    "top_p_sampling_from_probs_v128256",
}
# Not in that list: SGLang rotates q and k with its own kernel before attention
# (Llama3RotaryEmbedding, NeoX pairs, head_dim 128 all rotated), a definition the
# dataset names for MiniMax M2.
LLAMA_3_1_8B_ROPE = "rope_with_cos_sin_cache_neox_style_d128_rd128"


def names(plan):
    return {build_definition(spec, CONTEXT)["name"] for spec in plan.specs}


def expected_dense_gqa(cfg, tp, *, qk_norm=False, page_sizes=(1, 64)):
    """The definition names a dense GQA model needs, computed from its config."""
    hidden, heads, kv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    head_dim = cfg.get("head_dim") or hidden // heads
    inter, vocab = cfg["intermediate_size"], cfg["vocab_size"]
    h, k = heads // tp, max(1, kv // tp)
    attn = f"h{h}_kv{k}_d{head_dim}"
    expected = {
        f"rmsnorm_h{hidden}",
        f"fused_add_rmsnorm_h{hidden}",
        f"gemm_n{(heads + 2 * kv) * head_dim}_k{hidden}",
        f"gemm_n{hidden}_k{heads * head_dim}",
        f"gemm_n{2 * inter}_k{hidden}",
        f"gemm_n{hidden}_k{inter}",
        f"gqa_ragged_prefill_causal_{attn}",
        f"top_k_sampling_from_probs_v{vocab}",
        f"top_p_sampling_from_probs_v{vocab}",
        f"top_k_top_p_sampling_from_probs_v{vocab}",
    }
    for ps in page_sizes:
        expected |= {f"gqa_paged_decode_{attn}_ps{ps}", f"gqa_paged_prefill_causal_{attn}_ps{ps}"}
    if qk_norm:
        expected.add(f"rmsnorm_h{head_dim}")
    rotary = int(head_dim * cfg.get("partial_rotary_factor", 1.0))
    expected.add(f"rope_with_cos_sin_cache_neox_style_d{head_dim}_rd{rotary}")
    return expected


def test_llama_3_1_8b_is_exactly_the_official_set_and_its_rope(parse):
    plan = plan_kernels(parse("llama-3.1-8b"))
    assert names(plan) == LLAMA_3_1_8B_OFFICIAL | {LLAMA_3_1_8B_ROPE}
    assert plan.pending == []


@pytest.mark.parametrize(
    "slug, tp, qk_norm",
    [
        ("qwen3-8b", 1, True),
        ("qwen3-14b", 2, True),
        ("qwen3-32b", 4, True),
        ("mistral-7b-v0.3", 1, False),
        ("mistral-nemo-12b", 1, False),
        ("llama-3.1-70b", 4, False),
        ("llama-3.2-3b", 1, False),
        ("qwen2.5-7b", 1, False),
        ("phi-4", 1, False),
    ],
)
def test_dense_gqa_models_at_their_profiles(parse, catalog, slug, tp, qk_norm):
    cfg = json.loads((CATALOG_DIR / "configs" / f"{slug}.json").read_text())
    assert tp in catalog.find(slug).tp, "the test follows the model's default profile"
    plan = plan_kernels(parse(slug, tp=tp))
    assert names(plan) == expected_dense_gqa(cfg, tp, qk_norm=qk_norm)
    assert plan.pending == []


def test_execution_modes_and_page_sizes_filter_attention(parse):
    plan = plan_kernels(parse("llama-3.1-8b"), PlanOptions(stages=["decode"], page_sizes=[16]))
    attention = {n for n in names(plan) if n.startswith("gqa")}
    assert attention == {"gqa_paged_decode_h32_kv8_d128_ps16"}


def test_quantized_linears_are_skipped_unless_asked_for(parse):
    inventory = parse("deepseek-v3", tp=8, ep=8)
    plan = plan_kernels(inventory)
    skipped = {s.path for s in plan.skipped if "quantized" in s.reason}
    assert "model.layers.*.self_attn.q_b_proj" in skipped
    assert all("--include-quantized" in s.reason for s in plan.skipped if "quantized" in s.reason)
    # The router is a plain bf16 parameter, not quantized: it stays a GEMM.
    assert "gemm_n256_k7168" in {build_definition(s, CONTEXT)["name"] for s in plan.specs if s.family == "gemm"}


def test_components_without_a_rule_are_pending_with_location(parse):
    plan = plan_kernels(parse("mixtral-8x7b", tp=2))
    pending = {p.class_name: p for p in plan.pending}
    # (MoE families arrive with their own rules; until then nothing is invented for them.)
    for item in pending.values():
        assert item.location and ".py:" in item.location
        assert item.reason
