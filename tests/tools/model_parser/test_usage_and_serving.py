"""How models use their modules and what SGLang decides before building them, read from
SGLang 0.5.23's real model files with public configs (the holdout's, evals/holdout/configs/)."""

import json

import pytest

from pathlib import Path

from evals.truth import HOLDOUT_DIR

CONFIGS = HOLDOUT_DIR / "configs"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def holdout(parse_config, name, tp=1, ep=1):
    return parse_config(name, CONFIGS / f"{name}.json", tp=tp, ep=ep)


def by_path(inventory):
    table = {}
    for c in inventory.components:
        table.setdefault(c.path, []).append(c)
    return table


# ------------------------------------------------------------------ call sites


def test_post_norms_are_called_on_the_hidden_states_alone(parse_config):
    paths = by_path(holdout(parse_config, "olmo-2-1124-7b"))
    for path in ("model.layers.*.post_attention_layernorm", "model.layers.*.post_feedforward_layernorm", "model.norm"):
        [norm] = paths[path]
        assert norm.calls == [(1, [])] and norm.handed_to == [], path
    [q_norm] = paths["model.layers.*.self_attn.q_norm"]
    # q_norm(q) under CUDA-graph capture, q_norm.forward_native(q) otherwise.
    assert q_norm.calls == [(1, [])] and "forward_native" in q_norm.methods_called


def test_norms_handed_to_the_residual_stream_are_followed_into_helpers(parse, parse_config):
    llama = by_path(parse("llama-3.1-8b"))
    assert llama["model.layers.*.input_layernorm"][0].handed_to == ["append_stages"]
    assert llama["model.norm"][0].handed_to == ["residual_batch.final_norm"]
    # DeciLM appends its norms to a list that reaches append_stages through zip().
    deci = by_path(holdout(parse_config, "llama-3.3-nemotron-super-49b-v1", tp=2))
    assert {c.handed_to[0] for c in deci["model.layers.*.post_attention_layernorm"]} == {"append_stages"}
    # DeepSeek passes them to its own _build_stages method, which calls append_stages.
    deepseek = by_path(parse("deepseek-v3", tp=8, ep=8))
    assert deepseek["model.layers.*.input_layernorm"][0].handed_to == ["append_stages"]
    # Qwen3's q_norm goes through apply_qk_norm, which calls it on the per-head view.
    [q_norm] = by_path(parse("qwen3-8b"))["model.layers.*.self_attn.q_norm"]
    assert q_norm.calls == [(1, [])]


def test_keywords_spread_from_a_dict_built_beside_the_call_count(parse_config):
    # gpt-oss: extra_args = {"fused_set_kv_buffer_arg": ...}; self.rotary_emb(positions, q, k, **extra_args)
    [rope] = by_path(holdout(parse_config, "gpt-oss-20b"))["model.layers.*.self_attn.rotary_emb"]
    assert "fused_set_kv_buffer_arg" in rope.call_keywords


def test_attention_sinks_passed_at_call_time_are_seen_where_they_are_not_none(parse_config):
    gpt_oss = by_path(holdout(parse_config, "gpt-oss-20b"))["model.layers.*.self_attn.attn"]
    assert len(gpt_oss) == 2 and all("sinks" in c.call_keywords for c in gpt_oss)
    # MiMo V2 passes sinks=self.attention_sink_bias everywhere, None on its full-attention layers.
    mimo = by_path(holdout(parse_config, "mimo-v2-flash", tp=8, ep=8))["model.layers.*.self_attn.attn"]
    sinks = {c.value("sliding_window_size"): "sinks" in c.call_keywords for c in mimo}
    assert sinks == {128: True, -1: False}


# ------------------------------------------------------------------ model-local layers


def test_a_model_local_subclass_of_a_layer_is_that_layer(parse_config):
    [router] = by_path(holdout(parse_config, "gpt-oss-20b"))["model.layers.*.mlp.router"]
    assert (router.kind, router.class_name, router.base_class) == ("linear.replicated", "TinyGemmLinear", "ReplicatedLinear")
    assert (router.value("input_size"), router.value("output_size"), router.value("bias")) == (2880, 32, True)
    # Its forward calls tinygemm_bf16 or super().forward: the layer's GEMM either way.
    assert router.replaces_forward is None


def test_activations_from_outside_the_sources_read_are_layers_not_dropped(parse_config):
    # ReLU2 extends sglang.kernels' BaseFusedOp, which the unpacked wheel does not hold.
    [act] = by_path(holdout(parse_config, "nemotron-h-56b-base-8k", tp=2))["model.layers.*.mixer.act_fn"]
    assert (act.kind, act.class_name) == ("activation", "ReLU2")


# ------------------------------------------------------------------ nested config objects


def test_per_layer_block_configs_are_read_by_attribute(parse_config):
    inventory = holdout(parse_config, "llama-3.3-nemotron-super-49b-v1", tp=2)
    config = json.loads((CONFIGS / "llama-3.3-nemotron-super-49b-v1.json").read_text())
    paths = by_path(inventory)
    [attn] = paths["model.layers.*.self_attn.attn"]
    with_attention = [i for i, b in enumerate(config["block_configs"]) if not b["attention"]["no_op"]]
    assert attn.layers == with_attention and (attn.value("num_heads"), attn.value("num_kv_heads")) == (32, 4)
    [qkv] = paths["model.layers.*.self_attn.qkv_proj"]
    expr = qkv.params["total_num_kv_heads"].expr
    assert expr.startswith("config.num_attention_heads // (config.block_configs[") and expr.endswith("].attention.n_heads_in_group)")
    widths = {c.value("output_sizes")[0] for c in paths["model.layers.*.mlp.gate_up_proj"]}
    assert widths == {2816, 5632, 7168, 14336, 17920, 28672}


def test_a_missing_nested_field_names_its_expression(parse_config, tmp_path):
    config = json.loads((CONFIGS / "llama-3.3-nemotron-super-49b-v1.json").read_text())
    del config["block_configs"][0]["attention"]["n_heads_in_group"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    [qkv] = [c for c in by_path(parse_config("deci", path, tp=2))["model.layers.*.self_attn.qkv_proj"] if 0 in c.layers]
    assert qkv.params["total_num_kv_heads"].unknown
    assert "config.block_configs[0].attention.n_heads_in_group" in qkv.params["total_num_kv_heads"].expr


def test_gemma3_layer_types_follow_the_sliding_window_pattern(parse_config):
    attention = by_path(holdout(parse_config, "gemma-3-1b-it"))["model.layers.*.self_attn.attn"]
    windows = {c.value("sliding_window_size"): c.layers for c in attention}
    # Gemma3Attention passes sliding_window None on its global layers.
    assert windows == {511: [i for i in range(26) if (i + 1) % 6], None: [5, 11, 17, 23]}


# ------------------------------------------------------------------ serving facts


def test_the_served_dtype_follows_sglangs_rule_and_the_architectures_override(parse_config):
    olmo = holdout(parse_config, "olmo-2-1124-7b").serving
    assert olmo.dtype == "float16" and "float32" in olmo.dtype_reason and "model_config.py" in olmo.dtype_reason
    assert holdout(parse_config, "llama-2-7b").serving.dtype == "float16"
    # gpt-oss's config has no dtype (float32 -> float16), but its override forces bfloat16.
    gpt_oss = holdout(parse_config, "gpt-oss-20b").serving
    assert gpt_oss.dtype == "bfloat16" and "model_overrides/gpt_oss.py" in gpt_oss.dtype_reason


def test_shared_expert_fusion_is_the_model_class_decision(parse):
    # DeepSeek V3's gate has no objection at EP=1 on an SM90 GPU: the shared expert becomes a 257th routed expert.
    fused = parse("deepseek-v3", tp=8, ep=1)
    assert fused.serving.fused_shared_experts == 1 and "deepseek_v2.py" in fused.serving.shared_experts_reason
    [experts] = by_path(fused)["model.layers.*.mlp.experts"]
    assert (experts.value("num_experts"), experts.value("top_k"), experts.value("num_fused_shared_experts")) == (257, 9, 1)
    assert not any("shared_experts" in c.path for c in fused.components)
    # At EP=8 it refuses (expert parallelism off AMD), as for the catalog's profile.
    assert parse("deepseek-v3", tp=8, ep=8).serving.fused_shared_experts == 0


def test_glm45_fuses_its_shared_expert_by_default(parse_config):
    # GLM-4.7 has GLM-4.5's architecture; the partial config ai-dynamo/aiconfigurator vendored
    # (commit 19d098ad, src/aiconfigurator/model_configs/zai-org--GLM-4.7-FP8_config.json)
    # holds what the fusion gate reads: the architecture and the shared-expert count.
    inventory = parse_config("glm-4.7", FIXTURES / "glm-4.7-fp8-partial.json", tp=8)
    assert inventory.serving.fused_shared_experts == 1 and "glm4_moe.py" in inventory.serving.shared_experts_reason


def test_a_sliding_window_kv_pool_is_decided_per_architecture(parse, parse_config):
    assert holdout(parse_config, "gpt-oss-20b").serving.swa_kv_pool is True
    # Gemma's override disables hybrid SWA memory; Qwen3-MoE is no hybrid-SWA architecture.
    assert holdout(parse_config, "gemma-3-1b-it").serving.swa_kv_pool is False
    assert parse("qwen3-30b-a3b").serving.swa_kv_pool is False


def test_the_flashinfer_refusal_is_cited_where_sglang_makes_it(parse_config, sglang_source):
    where = holdout(parse_config, "gpt-oss-20b").serving.attention_backend_check
    path, lines = where.rsplit(":", 1)
    start, end = map(int, lines.split("-"))
    text = "\n".join((sglang_source.root / path).read_text().splitlines()[start - 1 : end])
    assert "GptOssForCausalLM" in text and "supported_backends" in text and "flashinfer" not in text.split("supported_backends = [")[1].split("]")[0]


def test_the_quantization_config_answers_as_its_sglang_class(parse_config):
    # Qwen3-MoE: norm_topk_prob = False only `if isinstance(quant_config, GGUFConfig)`.
    [topk] = by_path(holdout(parse_config, "qwen3-30b-a3b-fp8"))["model.layers.*.mlp.topk"]
    assert topk.value("renormalize") is True


def test_a_model_local_module_computing_without_sglang_layers_is_reported(parse):
    # MiniMax M2's q/k norms run RMSNorm across TP ranks in their own forward.
    unknown = {u.path: u for u in parse("minimax-m2", tp=4).unknown}
    q_norm = unknown["model.layers.*.self_attn.q_norm"]
    assert q_norm.class_name == "MiniMaxM2RMSNormTP" and q_norm.location.file == "sglang/srt/models/minimax_m2.py"
    assert "model-local module" in q_norm.reason
