"""The deterministic facts a drafting prompt states: config, parameters, op types, the example."""

import json

from tools.dedup_store import DefinitionStore
from tools.drafting.brief import choose_example, describe_parameters, flatten_config, likely_op_types


def test_nested_configs_flatten_to_dotted_keys_and_long_lists_are_summarised():
    flat = flatten_config({"hidden_size": 8, "text_config": {"num_heads": 4, "rope": {"theta": 1e4}}, "layer_types": ["full", "sliding"] * 20})
    assert flat["hidden_size"] == 8 and flat["text_config.num_heads"] == 4 and flat["text_config.rope.theta"] == 1e4
    assert flat["layer_types"] == "<list of 40; values 'full', 'sliding'>"


def test_parameters_say_their_value_and_config_expression(parse):
    inventory = parse("qwen3-8b")
    norm = next(c for c in inventory.components if c.kind == "norm.rmsnorm" and c.path == "model.norm")
    described = describe_parameters(norm)
    assert described["hidden_size"] == "4096 (from config.hidden_size)"


def test_likely_op_types_follow_family_kind_and_class_name():
    assert likely_op_types("moe.experts", "FusedMoE", "mla_paged_decode") == ["mla_paged"]
    assert likely_op_types("norm.gemma_rmsnorm", "Gemma3RMSNorm") == ["rmsnorm", "fused_add_rmsnorm"]
    assert likely_op_types("unknown", "VisionAttention")[0] == "gqa_ragged"
    assert likely_op_types("unknown", "Conv2d") == []
    # A rope left pending (M-RoPE, a rope fused with the KV-cache write) is shown a rope example.
    assert likely_op_types("rope", "get_rope") == likely_op_types("unknown", "MRotaryEmbedding") == ["rope"]


def definition(name, op_type, tags, reference="def run(x):\n    return x\n"):
    return {"name": name, "op_type": op_type, "tags": tags, "axes": {}, "inputs": {}, "outputs": {}, "reference": reference}


def test_a_verified_dataset_example_of_the_op_type_wins_over_template_built_ones(tmp_path):
    store_root = tmp_path / "ds"
    for d in (
        definition("rmsnorm_h64", "rmsnorm", ["status:unverified"]),
        definition("rmsnorm_h128", "rmsnorm", ["status:verified", "model:x"]),
        definition("gemm_n8_k8", "gemm", ["status:verified"]),
    ):
        path = store_root / "definitions" / d["op_type"] / f"{d['name']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(d))
    stored = [d for _, d in DefinitionStore(store_root).index().values()]
    built = [definition("rmsnorm_h4096", "rmsnorm", ["status:unverified"])]
    example, origin = choose_example(stored, built, ["rmsnorm"])
    assert example["name"] == "rmsnorm_h128" and "verified" in origin
    assert "tags" not in example


def test_without_a_verified_one_a_template_built_example_is_used_even_of_another_op_type():
    built = [definition("gemm_n8_k8", "gemm", []), definition("rmsnorm_h8", "rmsnorm", [], reference="def run(x):\n    return x * 1\n")]
    assert choose_example([], built, ["rmsnorm"])[0]["name"] == "rmsnorm_h8"
    example, origin = choose_example([], built, ["moe"])
    assert example["name"] == "gemm_n8_k8" and "another op type" in origin
    assert choose_example([], [], ["moe"]) == (None, None)
