"""LLM replies become dataset Definitions, or precise problems to send back."""

import json

import pytest

from tools.drafting.brief import DraftBrief, DraftTarget
from tools.drafting.reply import ReplyProblem, definition_from_reply, draft_tags, parse_reply

GOOD = {
    "name": "gemma_rmsnorm_h256",
    "op_type": "rmsnorm",
    "description": "Gemma RMSNorm.",
    "axes": {"batch_size": {"type": "var"}, "hidden_size": {"type": "const", "value": 256}},
    "inputs": {"x": {"shape": ["batch_size", "hidden_size"], "dtype": "bfloat16"}, "weight": {"shape": ["hidden_size"], "dtype": "bfloat16"}},
    "outputs": {"out": {"shape": ["batch_size", "hidden_size"], "dtype": "bfloat16"}},
    "reference": "import torch\n\ndef run(x, weight):\n    return x * (1 + weight)\n",
}


def brief(**overrides):
    return DraftBrief(
        **{"model_slug": "tiny-gemma3", "model_name": "Tiny", "sglang_version": "0.5.23", "class_name": "Gemma3RMSNorm", "kind": "norm.gemma_rmsnorm",
           "components": ["model.norm"], "reason": "no rule", "tp": 2, **overrides}
    )


def with_changes(**changes):
    return json.dumps({**GOOD, **changes})


def test_a_fenced_reply_becomes_a_tagged_definition_that_flashinfer_bench_accepts():
    from flashinfer_bench.data import Definition

    definition = definition_from_reply(parse_reply(f"Sure!\n```json\n{json.dumps(GOOD)}\n```\nDone."), brief())
    Definition.model_validate(definition)
    assert list(definition) == ["name", "description", "op_type", "tags", "axes", "inputs", "outputs", "reference"]
    # The dataset's tags for an rmsnorm (no tp: on norms); no sglang: or llm_drafted tag.
    assert definition["tags"] == ["status:unverified", "model:tiny-gemma3"]
    assert definition["inputs"]["weight"] == {"shape": ["hidden_size"], "dtype": "bfloat16"}


def test_drafted_tags_follow_the_datasets_order_and_parallel_tags():
    assert draft_tags("m", "gqa_paged", "gqa_paged_decode_h8_kv1_d64_ps1", tp=4, ep=1, stage="decode") == [
        "stage:decode", "status:unverified", "model:m", "tp:4",
    ]
    assert draft_tags("m", "moe", "moe_x", tp=8, ep=2, quantization="float8_e4m3fn") == [
        "status:unverified", "model:m", "quantization:float8_e4m3fn", "ep:2", "tp:8",
    ]
    # An op type the dataset has no files of: tp:, and ep: only where experts are split.
    assert draft_tags("m", "vision_attention", "vision_attention_h16", tp=2, ep=1) == ["status:unverified", "model:m", "tp:2"]


def test_a_bare_json_object_is_accepted():
    assert parse_reply(json.dumps(GOOD)).name == "gemma_rmsnorm_h256"


@pytest.mark.parametrize(
    "text, problem",
    [
        ("I cannot do that.", "contains no JSON object"),
        ('{"name": "x", "op_type": }', "does not parse"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "reference"}), "field reference: Field required"),
        (with_changes(axes={"batch_size": {"type": "dynamic"}}), "field axes.batch_size.type"),
    ],
)
def test_unparsable_replies_say_what_is_wrong(text, problem):
    with pytest.raises(ReplyProblem) as caught:
        parse_reply(text)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"name": "GemmaNorm-256"}, "must be lowercase snake_case"),
        ({"name": "gemma_rmsnorm"}, "missing: hidden_size=256"),
        ({"reference": "import torch\n\ndef run(weight, x):\n    return x\n"}, "must be the same names in the same order"),
        ({"reference": "def run(x, weight:\n"}, "reference does not parse"),
        ({"outputs": {"out": {"shape": ["tokens", "hidden_size"], "dtype": "bfloat16"}}}, 'references undefined axis "tokens"'),
        ({"axes": {**GOOD["axes"], "tokens": {"type": "var"}}, "outputs": {"out": {"shape": ["tokens", "hidden_size"], "dtype": "bfloat16"}}}, "that no input has"),
        ({"axes": {"batch_size": {"type": "var", "value": 4}, "hidden_size": {"type": "const", "value": 256}}}, "is var but has a value"),
    ],
)
def test_replies_breaking_dataset_rules_are_problems(changes, problem):
    with pytest.raises(ReplyProblem) as caught:
        definition_from_reply(parse_reply(with_changes(**changes)), brief())
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_a_known_target_pins_its_constant_axes_and_tags_the_stage():
    target = DraftTarget(family="gemma_rmsnorm", const_axes={"hidden_size": 512}, stage="decode")
    with pytest.raises(ReplyProblem, match="axis 'hidden_size' must be const with value 512"):
        definition_from_reply(parse_reply(json.dumps(GOOD)), brief(target=target))
    right = with_changes(name="gemma_rmsnorm_h512", axes={"batch_size": {"type": "var"}, "hidden_size": {"type": "const", "value": 512}})
    assert "stage:decode" in definition_from_reply(parse_reply(right), brief(target=target))["tags"]


# The dataset's MoE naming (flashinfer-bench moe_fp8_block_scale_ds_routing_topk8_ng8_kg4_e32_h7168_i2048):
# the name carries top-k, groups, local experts, hidden and intermediate sizes; the global
# expert count (32 x EP 8), gemm1_out_size (2 x 2048) and the 128-block counts follow from them.
MOE_AXES = {
    "seq_len": {"type": "var"},
    "num_experts": {"type": "const", "value": 256},
    "num_local_experts": {"type": "const", "value": 32},
    "hidden_size": {"type": "const", "value": 7168},
    "intermediate_size": {"type": "const", "value": 2048},
    "gemm1_out_size": {"type": "const", "value": 4096},
    "num_hidden_blocks": {"type": "const", "value": 56},
    "num_intermediate_blocks": {"type": "const", "value": 16},
    "num_gemm1_out_blocks": {"type": "const", "value": 32},
    "top_k": {"type": "const", "value": 8},
}
MOE = {
    "name": "moe_fp8_block_scale_ds_routing_topk8_ng8_kg4_e32_h7168_i2048",
    "op_type": "moe",
    "axes": MOE_AXES,
    "inputs": {"hidden_states": {"shape": ["seq_len", "hidden_size"], "dtype": "float8_e4m3fn"}},
    "outputs": {"output": {"shape": ["seq_len", "hidden_size"], "dtype": "bfloat16"}},
    "reference": "import torch\n\ndef run(hidden_states):\n    return hidden_states.to(torch.bfloat16)\n",
}


def test_derived_constant_axes_may_be_left_out_of_the_name_as_the_dataset_does():
    definition = definition_from_reply(parse_reply(json.dumps(MOE)), brief(kind="moe.experts", class_name="FusedMoE", ep=8))
    assert definition["name"] == MOE["name"]


def test_an_independent_constant_axis_must_still_be_named():
    reply = parse_reply(json.dumps({**MOE, "name": "moe_fp8_block_scale_ds_routing_topk8_ng8_kg4_e32_h7168"}))
    with pytest.raises(ReplyProblem) as caught:
        definition_from_reply(reply, brief(kind="moe.experts", class_name="FusedMoE", ep=8))
    assert any("missing: intermediate_size=2048" in p for p in caught.value.problems), caught.value.problems
