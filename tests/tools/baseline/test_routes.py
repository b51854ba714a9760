"""Which SGLang code path a component's kernel takes."""

import pytest

from tools.baseline.routes import BUILT, LAYER, OWNER, ROUTES, route_names
from tools.kernel_spec import KernelSpec
from tools.model_parser.inventory import Component, ParamValue


def component(kind, class_name="X", *, quantized=False, **params):
    return Component(
        path="model.layers.*.x",
        kind=kind,
        class_name=class_name,
        owner_class="Owner",
        parent_role="nested",
        params={k: ParamValue(value=v) for k, v in params.items()},
        quantized=quantized,
    )


GQA = dict(num_heads=32, num_kv_heads=8, head_dim=128, v_head_dim=-1)
# DeepSeek V3 at TP=8: the absorbed (latent) attention and the MHA prefill attention.
MLA_LATENT = dict(num_heads=16, num_kv_heads=1, head_dim=576, v_head_dim=512)
MLA_MHA = dict(num_heads=16, num_kv_heads=16, head_dim=192, v_head_dim=128)


def spec(family, stage=None, **axes):
    return KernelSpec(family=family, axes=axes, stage=stage)


def test_every_route_a_component_can_take_is_defined():
    names = set()
    for kind, params in [("attention.radix", GQA), ("attention.radix", MLA_LATENT), ("attention.radix", MLA_MHA)]:
        names |= set(route_names(component(kind, **params), None, None))
    for kind in ("norm.rmsnorm", "norm.gemma_rmsnorm", "norm.layernorm", "linear.qkv", "linear.parameter", "moe.experts", "moe.topk", "logits", "lm_head", "embedding", "rope", "activation"):
        names |= set(route_names(component(kind), None, None))
        names |= set(route_names(component(kind, quantized=True), None, "fp8"))
    assert names <= set(ROUTES)


def test_gqa_kernels_go_through_the_wrapper_of_their_stage():
    attn = component("attention.radix", "RadixAttention", **GQA)
    assert route_names(attn, spec("gqa_paged_decode", "decode", page_size=1), None) == ["attention.decode"]
    assert route_names(attn, spec("gqa_paged_prefill", "prefill", page_size=64), None) == ["attention.paged_prefill"]
    assert route_names(attn, spec("gqa_ragged_prefill", "prefill"), None) == ["attention.ragged_prefill"]
    assert route_names(attn, None, None) == ["attention.decode", "attention.paged_prefill", "attention.ragged_prefill"]


def test_mla_latent_attention_is_paged_and_its_mha_half_is_ragged_prefill():
    latent = component("attention.radix", "RadixAttention", **MLA_LATENT)
    mha = component("attention.radix", "RadixAttention", **MLA_MHA)
    assert route_names(latent, None, None) == ["mla.decode", "mla.paged_prefill"]
    assert route_names(mha, None, None) == ["mla.ragged_prefill"]
    # Once the planner plans MLA kernels, each goes to the route of its stage.
    assert route_names(latent, spec("any_mla_decode_family", "decode", page_size=1), None) == ["mla.decode"]
    assert route_names(latent, spec("any_mla_prefill_family", "prefill", page_size=1), None) == ["mla.paged_prefill"]


def test_mla_routes_use_the_mla_backend():
    for name in ("mla.decode", "mla.paged_prefill", "mla.ragged_prefill"):
        assert any(s.target == "FlashInferMLAAttnBackend" for s in ROUTES[name].steps)
    for name in ("attention.decode", "attention.paged_prefill", "attention.ragged_prefill"):
        assert any(s.target == "FlashInferAttnBackend" for s in ROUTES[name].steps)


def test_rmsnorm_with_a_residual_is_the_fused_kernel():
    norm = component("norm.rmsnorm", "RMSNorm", hidden_size=4096)
    assert route_names(norm, spec("rmsnorm", hidden_size=4096), None) == ["norm.rmsnorm"]
    assert route_names(norm, spec("fused_add_rmsnorm", hidden_size=4096), None) == ["norm.fused_add_rmsnorm"]
    gemma = component("norm.gemma_rmsnorm", "GemmaRMSNorm", hidden_size=2048)
    assert route_names(gemma, spec("gemma_rmsnorm", hidden_size=2048), None) == ["norm.gemma_rmsnorm"]
    assert route_names(gemma, spec("gemma_fused_add_rmsnorm", hidden_size=2048), None) == ["norm.gemma_fused_add_rmsnorm"]


@pytest.mark.parametrize("kind", ["linear.qkv", "linear.row", "linear.replicated"])
def test_quantized_layers_follow_the_checkpoint_quantization(kind):
    assert route_names(component(kind), None, "fp8") == ["linear.unquantized"]
    assert route_names(component(kind, quantized=True), None, "fp8") == ["linear.fp8"]
    assert route_names(component(kind, quantized=True), None, "awq") == ["linear.awq"]  # no route: reported, not guessed
    assert "linear.awq" not in ROUTES


def test_experts_route_by_quantization_and_sampling_by_family():
    assert route_names(component("moe.experts", "FusedMoE"), None, None) == ["moe.experts.unquantized"]
    assert route_names(component("moe.experts", "FusedMoE", quantized=True), None, "fp8") == ["moe.experts.fp8"]
    logits = component("logits", "LogitsProcessor")
    assert route_names(logits, spec("top_k_top_p_sampling_from_probs", vocab_size=1000), None) == ["sampling.top_k_top_p_sampling_from_probs"]


def test_unknown_kinds_have_no_route():
    assert route_names(component("attention.linear", "RadixLinearAttention"), None, None) == []


def test_steps_name_their_module_unless_they_are_the_component_itself():
    for route in ROUTES.values():
        assert route.steps and route.kernel and route.backend
        for step in route.steps:
            assert (step.module is None) == (step.target in (LAYER, OWNER, BUILT)), (route.name, step)
