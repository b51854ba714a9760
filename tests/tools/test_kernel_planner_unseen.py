"""Planning models outside the catalog (the holdout's public configs, SGLang 0.5.23's real
model files): no definition a model does not run, and every miss pending with its reason."""

import json

import pytest

from evals.truth import HOLDOUT_DIR
from tools.definition_builder.builder import BuildContext, build_definition
from tools.kernel_planner import plan_kernels
from tools.model_registry.catalog import CATALOG_DIR

CONFIGS = HOLDOUT_DIR / "configs"
CONTEXT = BuildContext(model_slug="test", sglang_version="test")


def plan_of(parse_config, name, tp=1, ep=1):
    return plan_kernels(parse_config(name, CONFIGS / f"{name}.json", tp=tp, ep=ep))


def names(plan):
    return {build_definition(spec, CONTEXT)["name"] for spec in plan.specs}


def pending(plan, path):
    return [p.reason for p in plan.pending if p.path == path]


def test_a_post_norm_model_gets_no_fused_add_rmsnorm(parse_config):
    produced = names(plan_of(parse_config, "olmo-2-1124-7b"))
    assert "rmsnorm_h4096" in produced
    assert not any("fused_add" in n for n in produced)


def test_pre_norm_models_still_get_both_norm_kernels(parse):
    produced = names(plan_kernels(parse("llama-3.1-8b")))
    assert {"rmsnorm_h4096", "fused_add_rmsnorm_h4096"} <= produced


def test_gpt_oss_router_gemm_is_emitted_and_its_attention_and_experts_pending(parse_config):
    plan = plan_of(parse_config, "gpt-oss-20b")
    produced = names(plan)
    assert "gemm_n32_k2880" in produced  # TinyGemmLinear(ReplicatedLinear), 2880 -> 32 experts
    assert not any(n.startswith("gqa_") for n in produced)
    attention = pending(plan, "model.layers.*.self_attn.attn")
    assert len(attention) == 2 and all("sinks" in r and "model_hook.py" in r for r in attention)
    assert any("sliding-window" in r for r in attention)
    [experts] = pending(plan, "model.layers.*.mlp.experts")
    assert "with_bias" in experts and "gemm1_clamp_limit 7.0" in experts and "mxfp4" in experts
    assert "divisible" not in experts


def test_gpt_oss_rope_runs_apart_from_its_sliding_window_kv_pool(parse_config):
    # The call passes fused_set_kv_buffer_arg, but SGLang never fuses into a SWA pool.
    assert "rope_with_cos_sin_cache_neox_style_d64_rd64" in names(plan_of(parse_config, "gpt-oss-20b"))


def test_rope_fused_with_the_kv_write_only_where_sglang_fuses_it(parse, parse_config, tmp_path):
    bf16 = plan_kernels(parse("qwen3-30b-a3b"))
    [reason] = pending(bf16, "model.layers.*.self_attn.rotary_emb")
    assert "fused_set_kv_buffer_arg" in reason and "models/utils.py:" in reason
    # The same model with a float16 checkpoint keeps a float16 KV cache: no fusion.
    config = json.loads((CATALOG_DIR / "configs" / "qwen3-30b-a3b.json").read_text())
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**config, "torch_dtype": "float16"}))
    fp16 = plan_kernels(parse_config("qwen3-30b-a3b-fp16", path))
    assert "rope_with_cos_sin_cache_neox_style_d128_rd128" in names(fp16)


def test_non_gated_relu2_experts_are_pending_for_what_they_compute(parse_config):
    plan = plan_of(parse_config, "nemotron-3-nano-30b-a3b")
    assert not any(s.family.startswith("moe") for s in plan.specs)
    [experts] = pending(plan, "model.layers.*.mixer.experts")
    assert "'relu2'" in experts and "is_gated=False" in experts and "config.mlp_hidden_act" in experts
    assert "divisible" not in experts
    # The router is never called: NemotronHMoE multiplies gate.weight itself, into float32.
    [gate] = pending(plan, "model.layers.*.mixer.gate")
    assert "never calls it" in gate
    assert "gemm_n128_k2688" not in names(plan)


def test_decilm_attention_and_gemms_come_from_block_configs(parse_config):
    produced = names(plan_of(parse_config, "llama-3.3-nemotron-super-49b-v1", tp=2))
    assert "gqa_paged_decode_h32_kv4_d128_ps1" in produced and "gemm_n10240_k8192" in produced
    for width in (2816, 5632, 7168, 14336, 17920, 28672):
        assert f"gemm_n{2 * width}_k8192" in produced and f"gemm_n8192_k{width}" in produced


def test_an_unresolved_nested_field_is_named_in_the_pending_note(parse_config, tmp_path):
    config = json.loads((CONFIGS / "llama-3.3-nemotron-super-49b-v1.json").read_text())
    for block in config["block_configs"]:
        block["attention"].pop("n_heads_in_group")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    plan = plan_kernels(parse_config("deci-broken", path, tp=2))
    [reason] = pending(plan, "model.layers.*.self_attn.attn")
    assert "num_kv_heads" in reason and "attention.n_heads_in_group" in reason


def test_sliding_window_layers_are_pending_and_global_layers_emitted(parse_config):
    plan = plan_of(parse_config, "gemma-3-1b-it")
    assert "gqa_paged_decode_h4_kv1_d256_ps1" in names(plan)
    [window] = pending(plan, "model.layers.*.self_attn.attn")
    assert "sliding-window" in window and "22 layer(s)" in window
    attention_layers = sorted(layer for s in plan.specs if s.family.startswith("gqa") for layer in s.layers)
    assert set(attention_layers) == {5, 11, 17, 23}


def test_asymmetric_gqa_is_not_mistaken_for_mla(parse_config):
    # MiMo V2: q/k heads of 192, v heads of 128, one KV head per GPU at TP=8; no latent KV.
    plan = plan_of(parse_config, "mimo-v2-flash", tp=8, ep=8)
    assert not any(s.family.startswith("mla") for s in plan.specs)
    assert any("no MLA latent KV projection" in r for r in pending(plan, "model.layers.*.self_attn.attn"))
    # Its router weight is float32 (MoEGate): a float32 GEMM, not a gemm definition.
    [gate] = pending(plan, "model.layers.*.mlp.gate.weight")
    assert "float32" in gate


def test_a_fused_shared_expert_makes_the_moe_pending(parse):
    plan = plan_kernels(parse("deepseek-v3", tp=8, ep=1))
    assert not any(s.family.startswith("moe") for s in plan.specs)
    [reason] = pending(plan, "model.layers.*.mlp.experts")
    assert "shared expert(s) fused as routed slots" in reason and "deepseek_v2.py" in reason


def test_an_fp8_checkpoint_keeps_its_routing_and_skips_its_quantized_gemms(parse_config):
    plan = plan_of(parse_config, "qwen3-30b-a3b-fp8")
    produced = names(plan)
    assert "moe_fp8_block_scale_renorm_topk8_e128_h2048_i768" in produced
    assert {n for n in produced if n.startswith("gemm")} == {"gemm_n128_k2048"}  # the bf16 router


def test_activation_skips_name_the_activation(parse_config):
    plan = plan_of(parse_config, "gemma-2-9b")
    [note] = [s.reason for s in plan.skipped if s.kind == "activation"]
    assert note.startswith("GELU-and-mul") and "SiLU" not in note


@pytest.mark.parametrize("name, dtype", [("olmo-2-1124-7b", "float16"), ("llama-2-7b", "float16"), ("gpt-oss-20b", "bfloat16")])
def test_definitions_carry_the_served_dtype(parse_config, name, dtype):
    plan = plan_of(parse_config, name)
    for spec in plan.specs:
        if spec.family in ("rmsnorm", "rope_with_cos_sin_cache", "gqa_paged_decode"):
            definition = build_definition(spec, CONTEXT)
            activations = {t["dtype"] for n, t in definition["inputs"].items() if n in ("hidden_states", "q", "k_cache")}
            assert activations == {dtype}, definition["name"]
            if dtype != "bfloat16":
                assert "torch.bfloat16" not in definition["reference"], definition["name"]
