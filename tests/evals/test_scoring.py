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
from evals.truth import GroundTruth, ModelTruth

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
    assert signature_differences(SIGNATURES[DECODE], broken) == [
        "axis num_qo_heads is var, expected 32",
        "axis page_size is 16, expected 1",
        "input k_cache shape ['num_pages', 'num_kv_heads', 'page_size', 'head_dim'], expected ['num_pages', 'page_size', 'num_kv_heads', 'head_dim']",
        "input kv_last_page_len is not in the official definition",
        "input q dtype float16, expected bfloat16",
        "output lse is missing",
    ]


def extracted(name, **fields):
    return ExtractedDefinition(name=name, definition={"name": name}, origin=fields.pop("origin", "template"), **fields)


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
