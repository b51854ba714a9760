"""The forward-pass structure and constructor calls of real models."""

import json

import pytest

from tools.model_registry.catalog import CATALOG_DIR


def config_of(slug):
    return json.loads((CATALOG_DIR / "configs" / f"{slug}.json").read_text())


def groups(layer_groups):
    return {g.label: g.layers for g in layer_groups}


@pytest.mark.parametrize("slug", ["deepseek-v3", "kimi-k2"])
def test_deepseek_style_models_say_which_layers_are_dense(slug, baseline):
    cfg = config_of(slug)
    dense = list(range(cfg["first_k_dense_replace"]))
    for profile in baseline(slug)[1].implementation.profiles:
        stack = profile.forward_pass.decoder_layers
        assert stack.num_layers == cfg["num_hidden_layers"]
        assert groups(stack.feed_forward) == {"dense": dense, "moe": list(range(len(dense), cfg["num_hidden_layers"]))}
        attention = groups(stack.attention)
        assert set(attention) == {"model.layers.*.self_attn.attn_mqa (RadixAttention, MLA)", "model.layers.*.self_attn.attn_mha (RadixAttention, MLA)"}
        assert all(layers == list(range(cfg["num_hidden_layers"])) for layers in attention.values())


def test_kimi_is_documented_at_each_expert_parallel_size_of_its_profile(baseline):
    model, analysis = baseline("kimi-k2")
    assert [(p.tp, p.ep) for p in analysis.implementation.profiles] == [(8, ep) for ep in model.profile.ep]
    assert {(c.tp, c.ep) for c in analysis.kernel_calls} == {(8, ep) for ep in model.profile.ep}


def test_qwen3_moe_has_experts_in_every_layer(baseline):
    cfg = config_of("qwen3-30b-a3b")
    [profile] = baseline("qwen3-30b-a3b")[1].implementation.profiles
    stack = profile.forward_pass.decoder_layers
    assert groups(stack.feed_forward) == {"moe": list(range(cfg["num_hidden_layers"]))}
    assert groups(stack.attention) == {"model.layers.*.self_attn.attn (RadixAttention, GQA)": list(range(cfg["num_hidden_layers"]))}


def test_llama_forward_pass_in_order(baseline):
    cfg = config_of("llama-3.1-8b")
    model, analysis = baseline("llama-3.1-8b")
    assert analysis.implementation.model_file == "python/sglang/srt/models/llama.py"
    assert analysis.implementation.class_name == "LlamaForCausalLM"
    [profile] = analysis.implementation.profiles
    forward = profile.forward_pass
    assert [s.path for s in forward.embedding] == ["model.embed_tokens"]
    assert [s.path for s in forward.final_norm] == ["model.norm"]
    assert [s.path for s in forward.lm_head] == ["lm_head", "logits_processor"]
    stack = forward.decoder_layers
    assert groups(stack.layer_classes) == {"LlamaDecoderLayer": list(range(cfg["num_hidden_layers"]))}
    assert groups(stack.feed_forward) == {"dense": list(range(cfg["num_hidden_layers"]))}
    paths = [s.path for s in stack.components]
    assert paths.index("model.layers.*.self_attn.qkv_proj") < paths.index("model.layers.*.self_attn.attn") < paths.index("model.layers.*.mlp.down_proj")
    [attn] = [s for s in stack.components if s.path == "model.layers.*.self_attn.attn"]
    assert {k.flashinfer_equivalent for k in attn.kernels} == {
        "gqa_paged_decode_h32_kv8_d128_ps1", "gqa_paged_decode_h32_kv8_d128_ps64",
        "gqa_paged_prefill_causal_h32_kv8_d128_ps1", "gqa_paged_prefill_causal_h32_kv8_d128_ps64",
        "gqa_ragged_prefill_causal_h32_kv8_d128",
    }


def test_constructor_calls_keep_values_and_config_expressions(baseline):
    cfg = config_of("deepseek-v3")
    [profile] = baseline("deepseek-v3")[1].implementation.profiles
    [mqa] = [c for c in profile.kernel_calls_found if c.path == "model.layers.*.self_attn.attn_mqa"]
    assert mqa.function == "RadixAttention" and mqa.owner_class == "DeepseekV2AttentionMLA"
    assert mqa.params["num_heads"].value == cfg["num_attention_heads"] // 8
    assert mqa.params["num_heads"].expr == "config.num_attention_heads // tp_size"
    assert mqa.params["head_dim"].value == cfg["kv_lora_rank"] + cfg["qk_rope_head_dim"]
    assert mqa.location.file == "sglang/srt/models/deepseek_v2.py"
