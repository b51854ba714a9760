"""Parsing SGLang's real model files (the pinned release) with the shipped configs."""

import json

import pytest

from tools.model_registry.catalog import CATALOG_DIR


def config_of(slug):
    return json.loads((CATALOG_DIR / "configs" / f"{slug}.json").read_text())


def by_path(inventory):
    table = {}
    for c in inventory.components:
        table.setdefault(c.path, []).append(c)
    return table


def test_llama_components_with_config_expressions(parse):
    inventory = parse("llama-3.1-8b")
    cfg = config_of("llama-3.1-8b")
    assert inventory.model_file == "sglang/srt/models/llama.py"
    assert inventory.num_layers == cfg["num_hidden_layers"]
    paths = by_path(inventory)
    [attn] = paths["model.layers.*.self_attn.attn"]
    assert attn.kind == "attention.radix" and attn.layers == list(range(cfg["num_hidden_layers"]))
    assert attn.value("num_heads") == cfg["num_attention_heads"]
    assert attn.value("num_kv_heads") == cfg["num_key_value_heads"]
    assert attn.value("head_dim") == cfg["hidden_size"] // cfg["num_attention_heads"]
    assert "config.num_attention_heads" in attn.params["num_heads"].expr and "tp_size" in attn.params["num_heads"].expr
    [qkv] = paths["model.layers.*.self_attn.qkv_proj"]
    assert (qkv.value("hidden_size"), qkv.value("total_num_heads"), qkv.value("total_num_kv_heads")) == (4096, 32, 8)
    [gate_up] = paths["model.layers.*.mlp.gate_up_proj"]
    assert gate_up.value("output_sizes") == [cfg["intermediate_size"]] * 2
    assert gate_up.params["output_sizes"].expr == "[config.intermediate_size, config.intermediate_size]"
    roles = {p: cs[0].parent_role for p, cs in paths.items() if cs[0].kind == "norm.rmsnorm"}
    assert roles == {"model.layers.*.input_layernorm": "decoder_layer", "model.layers.*.post_attention_layernorm": "decoder_layer", "model.norm": "model"}
    assert inventory.unknown == []


def test_locations_point_at_the_constructor_calls(parse, sglang_source):
    inventory = parse("llama-3.1-8b")
    for component in inventory.components:
        lines = (sglang_source.root / component.location.file).read_text().splitlines()
        span = "\n".join(lines[component.location.start_line - 1 : component.location.end_line])
        assert component.class_name in span, (component.path, component.location)


@pytest.mark.parametrize("tp", [2, 4, 8])
def test_tensor_parallel_splits_heads_and_replicates_kv_heads(parse, tp):
    cfg = config_of("qwen2.5-72b")
    [attn] = by_path(parse("qwen2.5-72b", tp=tp))["model.layers.*.self_attn.attn"]
    assert attn.value("num_heads") == cfg["num_attention_heads"] // tp
    assert attn.value("num_kv_heads") == max(1, cfg["num_key_value_heads"] // tp)


def test_mistral_reuses_the_llama_classes_from_another_file(parse):
    inventory = parse("mistral-7b-v0.3")
    assert inventory.model_file == "sglang/srt/models/mistral.py"
    [attn] = by_path(inventory)["model.layers.*.self_attn.attn"]
    assert attn.owner_class == "LlamaAttention"
    assert attn.location.file == "sglang/srt/models/llama.py"


def test_explicit_head_dim_wins_over_hidden_over_heads(parse):
    cfg = config_of("mistral-nemo-12b")
    assert cfg["hidden_size"] // cfg["num_attention_heads"] != cfg["head_dim"]
    [attn] = by_path(parse("mistral-nemo-12b"))["model.layers.*.self_attn.attn"]
    assert attn.value("head_dim") == cfg["head_dim"]


def test_qwen3_builds_layers_through_a_decoder_class_argument(parse):
    inventory = parse("qwen3-8b")
    assert set(inventory.layer_classes) == {"Qwen3DecoderLayer"}
    paths = by_path(inventory)
    [q_norm] = paths["model.layers.*.self_attn.q_norm"]
    assert q_norm.value("hidden_size") == config_of("qwen3-8b")["head_dim"]
    assert q_norm.parent_role == "nested"


def test_deepseek_v3_dense_and_moe_layers_and_quantized_linears(parse):
    cfg = config_of("deepseek-v3")
    inventory = parse("deepseek-v3", tp=8, ep=8)
    paths = by_path(inventory)
    dense = cfg["first_k_dense_replace"]
    [dense_mlp] = paths["model.layers.*.mlp.gate_up_proj"]
    assert dense_mlp.layers == list(range(dense))
    [experts] = paths["model.layers.*.mlp.experts"]
    assert experts.layers == list(range(dense, cfg["num_hidden_layers"]))
    assert experts.value("num_experts") == cfg["n_routed_experts"]
    assert experts.value("intermediate_size") == cfg["moe_intermediate_size"]
    [router] = paths["model.layers.*.mlp.gate.weight"]
    assert (router.value("output_size"), router.value("input_size")) == (cfg["n_routed_experts"], cfg["hidden_size"])
    assert not router.quantized
    [q_b] = paths["model.layers.*.self_attn.q_b_proj"]
    assert q_b.quantized  # DeepSeek V3 ships fp8 block-scaled linear weights
    [mqa] = paths["model.layers.*.self_attn.attn_mqa"]
    assert mqa.value("num_heads") == cfg["num_attention_heads"] // 8
    assert mqa.value("v_head_dim") == cfg["kv_lora_rank"]
    assert mqa.value("head_dim") == cfg["kv_lora_rank"] + cfg["qk_rope_head_dim"]
    [topk] = paths["model.layers.*.mlp.topk"]
    assert topk.value("num_expert_group") == cfg["n_group"] and topk.value("topk_group") == cfg["topk_group"]
    assert topk.value("use_grouped_topk") is True


def test_a_profile_the_model_cannot_run_is_reported(parse):
    inventory = parse("llama-3.1-8b", tp=3)
    assert inventory.failures
    assert "llama.py" in inventory.failures[0] and "tp_size" in inventory.failures[0]


def test_get_rope_keeps_the_models_call_and_records_the_class_it_builds(parse, sglang_source):
    inventory = parse("llama-3.1-8b")
    [rope] = by_path(inventory)["model.layers.*.self_attn.rotary_emb"]
    # The component is the model's own get_rope call, with its arguments...
    assert rope.kind == "rope" and rope.class_name == "get_rope" and rope.location.file == "sglang/srt/models/llama.py"
    assert rope.value("rope_scaling")["rope_type"] == "llama3"
    # ...and get_rope's body, run for those arguments, builds Llama3RotaryEmbedding there.
    [built] = rope.builds
    assert built.class_name == "Llama3RotaryEmbedding" and built.location.file == "sglang/srt/layers/rotary_embedding/factory.py"
    lines = (sglang_source.root / built.location.file).read_text().splitlines()
    assert "Llama3RotaryEmbedding(" in "\n".join(lines[built.location.start_line - 1 : built.location.end_line])
    assert (built.params["head_size"].value, built.params["rotary_dim"].value, built.params["is_neox_style"].value) == (128, 128, True)
    assert built.params["scaling_factor"].value == config_of("llama-3.1-8b")["rope_scaling"]["factor"]


def test_get_rope_wrapper_records_what_get_rope_builds(parse):
    [rope] = by_path(parse("deepseek-v3", tp=8, ep=8))["model.layers.*.self_attn.rotary_emb"]
    assert rope.class_name == "get_rope_wrapper" and [b.class_name for b in rope.builds] == ["DeepseekScalingRotaryEmbedding"]


def test_call_keywords_are_read_from_the_owners_methods(parse):
    [moe_rope] = by_path(parse("qwen3-30b-a3b"))["model.layers.*.self_attn.rotary_emb"]
    assert moe_rope.owner_class == "Qwen3MoeAttention" and moe_rope.call_keywords == ["fused_set_kv_buffer_arg"]
    [dense_rope] = by_path(parse("qwen3-8b"))["model.layers.*.self_attn.rotary_emb"]
    assert dense_rope.call_keywords == []


def test_rope_parameters_of_a_pre_transformers_5_config(parse):
    # Llama 4 reads config.rope_parameters, which transformers 5 builds from rope_scaling and
    # rope_theta; the shipped config.json (like most) has only the older fields.
    text = config_of("llama-4-scout-17b-16e")["text_config"]
    assert "rope_parameters" not in text
    [rope] = by_path(parse("llama-4-scout-17b-16e", tp=8))["language_model.model.layers.*.self_attn.rotary_emb"]
    assert rope.value("base") == int(text["rope_theta"])
    assert rope.value("rope_scaling") == {**text["rope_scaling"], "rope_theta": text["rope_theta"]}
