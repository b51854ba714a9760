"""Scoring is pure: hand-written runs against hand-written or shipped ground truth."""

import copy

import pytest

from evals.scoring import (
    ExtractedDefinition,
    ModelRun,
    count_checks,
    llm_usage,
    score_model,
    score_names,
    signature_differences,
    summarize,
)
from evals.truth import HOLDOUT_DIR, GroundTruth, ModelTruth

SIGNATURES = GroundTruth.load().signatures
DECODE = "gqa_paged_decode_h32_kv8_d128_ps1"


def truth(**fields):
    base = dict(
        model="toy", family="gqa_moe", tp=[1], ep=[1], profile_source="test", config_source="test", official_source="test",
        expected=[{"name": n, "source": f"because {n}"} for n in ("rmsnorm_h64", "gemm_n128_k64", "top_k_sampling_from_probs_v1000")],
        unscored=[{"pattern": "moe_*", "reason": "no official name"}],
    )
    return ModelTruth.model_validate({**base, **fields})


def as_definition(signature):
    """A Definition dict with exactly the official signature."""
    return {
        "name": DECODE,
        "op_type": signature.op_type,
        "axes": {k: {"type": "var"} if v == "var" else {"type": "const", "value": v} for k, v in signature.axes.items()},
        "inputs": {k: {"shape": t.shape, "dtype": t.dtype} for k, t in signature.inputs.items()},
        "outputs": {k: {"shape": t.shape, "dtype": t.dtype} for k, t in signature.outputs.items()},
        "constraints": list(signature.constraints),
    }


def test_names_split_into_hits_missing_extra_and_unscored():
    produced = {"rmsnorm_h64": ["model.norm"], "top_k_sampling_from_probs_v1000": ["logits"], "gemm_n64_k64": ["mlp.up"], "moe_renorm_e8": ["mlp.experts"]}
    score = score_names(truth(), produced)
    assert (score.expected, score.hits, score.scored_produced) == (3, 2, 3)
    assert score.recall == pytest.approx(2 / 3) and score.precision == pytest.approx(2 / 3)
    [missing] = score.missing
    assert (missing.name, missing.source, missing.closest) == ("gemm_n128_k64", "because gemm_n128_k64", "gemm_n64_k64")
    assert [(e.name, e.components) for e in score.extra] == [("gemm_n64_k64", ["mlp.up"])]
    assert score.unscored == ["moe_renorm_e8"]


def test_an_unscored_pattern_never_hides_an_expected_name():
    score = score_names(truth(unscored=[{"pattern": "*", "reason": "all"}]), {"rmsnorm_h64": []})
    assert score.hits == 1 and [m.name for m in score.missing] == ["gemm_n128_k64", "top_k_sampling_from_probs_v1000"]


def test_the_official_signature_matches_itself():
    assert signature_differences(SIGNATURES[DECODE], as_definition(SIGNATURES[DECODE])) == []


def test_each_kind_of_signature_difference_is_named():
    definition = as_definition(SIGNATURES[DECODE])
    broken = copy.deepcopy(definition)
    broken["axes"]["page_size"]["value"] = 16
    broken["axes"]["num_qo_heads"] = {"type": "var"}
    broken["inputs"]["q"]["dtype"] = "float16"
    broken["inputs"]["k_cache"]["shape"] = ["num_pages", "num_kv_heads", "page_size", "head_dim"]
    broken["inputs"]["kv_last_page_len"] = {"shape": ["batch_size"], "dtype": "int32"}
    del broken["outputs"]["lse"]
    broken["constraints"] = broken["constraints"][:1]
    differences = signature_differences(SIGNATURES[DECODE], broken)
    for fragment in ("axis num_qo_heads", "axis page_size 16", "input q dtype float16", "input k_cache shape",
                     "input kv_last_page_len", "output lse missing", "constraints"):
        assert any(fragment in d for d in differences), (fragment, differences)
    assert len(differences) == 7


def test_inputs_in_another_order_differ():
    definition = as_definition(SIGNATURES[DECODE])
    swapped = dict(definition, inputs=dict(reversed(list(definition["inputs"].items()))))
    (difference,) = signature_differences(SIGNATURES[DECODE], swapped)
    assert difference.startswith("input order")


def test_every_expected_official_name_is_checked_and_a_departure_is_counted_apart():
    moe = "moe_fp8_block_scale_renorm_topk10_e128_h2048_i512"
    official = as_definition(SIGNATURES[moe]) | {"name": moe}
    ours = copy.deepcopy(official)
    # What Qwen3-Next at EP=4 runs under this name: routing over all 512 experts.
    ours["axes"] = {"seq_len": {"type": "var"}, "num_experts": {"type": "const", "value": 512}, **{k: v for k, v in ours["axes"].items() if k != "seq_len"}}
    ours["inputs"]["routing_logits"]["shape"] = ["seq_len", "num_experts"]
    ours["inputs"]["local_expert_offset"] = {"shape": None, "dtype": "int32"}
    toy = truth(expected=[{"name": moe, "source": "x"}, {"name": DECODE, "source": "x"}, {"name": "rmsnorm_h64", "source": "x"}])
    run = ModelRun(model="toy", tp=[1], ep=[1], seconds=1.0, definitions=[extracted(moe, definition=ours)])
    score = score_model(toy, SIGNATURES, run)
    # Both official names are checked, without being sampled; rmsnorm_h64 has no official file.
    assert [(s.name, s.produced) for s in score.signatures] == [(DECODE, False), (moe, True)]
    (departed,) = [s for s in score.signatures if s.produced]
    assert departed.departed and not departed.matched and "512" in departed.departure, departed.differences
    assert (score.signatures_checked, score.signatures_matched, score.signatures_departed) == (1, 0, 1)


def extracted(name, **fields):
    definition = fields.pop("definition", {"name": name})
    return ExtractedDefinition(name=name, definition=definition, origin=fields.pop("origin", "template"), **fields)


def test_checks_count_passed_failed_and_skipped_separately():
    counts = count_checks([
        extracted("a", check="passed"), extracted("b", check="failed", check_summary="output 'y' has NaN"),
        extracted("c", check="skipped"), extracted("d"),
    ])
    assert (counts.passed, counts.failed, counts.skipped) == (1, 1, 1)
    assert counts.pass_rate == 0.5 and counts.failures == ["b: output 'y' has NaN"]


def test_llm_usage_is_per_drafted_kernel_and_tokens_stay_unknown_unless_reported():
    usage = llm_usage([extracted("a", origin="llm", attempts=3), extracted("b", origin="llm", attempts=1), extracted("c", attempts=1)])
    assert (usage.kernels, usage.attempts, usage.attempts_per_kernel, usage.tokens) == (2, 4, 2.0, None)
    usage = llm_usage([extracted("a", origin="llm", attempts=2, tokens=900), extracted("b", origin="llm", attempts=1, tokens=300)])
    assert usage.tokens_per_kernel == 600


def test_a_model_score_and_the_totals_weigh_every_expected_name():
    toy = truth(signatures=[], expected=[{"name": "rmsnorm_h64", "source": "x"}])
    big = truth(model="big", expected=[{"name": f"gemm_n{i}_k64", "source": "x"} for i in range(1, 10)])
    scores = [
        score_model(toy, SIGNATURES, ModelRun(model="toy", tp=[1], ep=[1], seconds=1.0, definitions=[extracted("rmsnorm_h64", check="passed")])),
        score_model(big, SIGNATURES, ModelRun(model="big", tp=[1], ep=[1], seconds=2.0, pending=["mlp.experts — no rule"])),
    ]
    totals = summarize(scores)
    assert (totals.hits, totals.expected, totals.recall) == (1, 10, 0.1)
    assert (totals.checks_passed, totals.pending, totals.seconds) == (1, 1, 3.0)


def test_a_hand_derived_signature_is_checked_only_for_the_models_it_names():
    # The holdout's rmsnorm_h4096 is derived for models served in float16; a bfloat16 model
    # runs bfloat16 tensors under the same name, which is no signature miss.
    holdout = GroundTruth.load(HOLDOUT_DIR).signatures
    name = "rmsnorm_h4096"
    float16 = as_definition(holdout[name]) | {"name": name}
    bfloat16 = copy.deepcopy(float16)
    for tensor in (*bfloat16["inputs"].values(), *bfloat16["outputs"].values()):
        tensor["dtype"] = "bfloat16"
    expected = [{"name": name, "source": "x"}]
    for model, definition, checked in (("olmo-2-1124-7b", float16, [(name, True)]), ("mimo-v2-flash", bfloat16, [])):
        run = ModelRun(model=model, tp=[1], ep=[1], seconds=1.0, definitions=[extracted(name, definition=definition)])
        score = score_model(truth(model=model, expected=expected), holdout, run)
        assert [(s.name, s.matched) for s in score.signatures] == checked, model
