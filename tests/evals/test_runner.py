"""The eval over the real pipeline (real SGLang sources, the compiled agent graph), and a
planted planner regression that it must catch for exactly the models it affects."""

import pytest

from evals.runner import EvalOptions, make_context, run_models
from evals.scoring import score_model
from evals.truth import GroundTruth
from tools import kernel_planner

TRUTH = GroundTruth.load()
# One or two models per family, small enough for CI; names only (no reference checks).
CI_MODELS = ["llama-3.1-8b", "qwen3-8b", "mixtral-8x7b", "deepseek-v2-lite", "qwen3-next-80b-a3b"]
OPTIONS = EvalOptions(verify="none")


def evaluate(models):
    truths = TRUTH.select(models)
    runs = run_models(truths, OPTIONS, make_context(OPTIONS))
    return {t.model: score_model(t, TRUTH.signatures, r) for t, r in zip(truths, runs)}


def inner_norms(truth):
    """Expected RMSNorms narrower than the residual stream (q/k norms, MLA latent norms)."""
    return {n for n in truth.expected_names if n.startswith("rmsnorm_h") and f"fused_add_{n}" not in truth.expected_names}


def rule_table():
    # The planner's layer-kind -> rule table; it becomes public (RULES) when the planner grows into a package.
    return getattr(kernel_planner, "RULES", None) or kernel_planner._RULES


@pytest.fixture(scope="module")
def baseline(sglang_source):
    return evaluate(CI_MODELS)


def test_each_model_runs_the_real_pipeline(baseline):
    for model, score in baseline.items():
        assert score.error is None, (model, score.error)
        assert score.names.hits > 0 and score.seconds > 0
        assert score.checks.passed == score.checks.failed == 0  # --verify none
    # Dense GQA is the planner's best-covered family: the official Llama set is found in full.
    assert baseline["llama-3.1-8b"].names.recall == 1.0


def test_a_planted_planner_regression_drops_recall_for_exactly_the_affected_models(baseline, monkeypatch):
    rules = rule_table()
    original = rules["norm.rmsnorm"]

    def residual_stream_norms_only(planner, component):
        # The planted bug: RMSNorms inside attention blocks are forgotten.
        if component.parent_role in ("decoder_layer", "model"):
            original(planner, component)

    monkeypatch.setitem(rules, "norm.rmsnorm", residual_stream_norms_only)
    regressed = evaluate(CI_MODELS)

    affected = {m for m in CI_MODELS if inner_norms(TRUTH.models[m])}
    assert affected and affected != set(CI_MODELS), "the sample must hold affected and unaffected models"
    dropped = {m for m in CI_MODELS if regressed[m].names.recall < baseline[m].names.recall}
    assert dropped == affected
    for model in affected:
        newly_missing = {m.name for m in regressed[model].names.missing} - {m.name for m in baseline[model].names.missing}
        assert newly_missing == inner_norms(TRUTH.models[model])
    for model in set(CI_MODELS) - affected:
        assert regressed[model].names.missing == baseline[model].names.missing


def test_a_definition_too_large_for_the_cpu_is_left_for_the_gpu_not_counted_failed(sglang_source):
    # Mixtral 8x7B's MoE inputs need ~5 GiB: the CPU check skips it; its other references run.
    options = EvalOptions(verify="cpu")
    [truth] = TRUTH.select(["mixtral-8x7b"])
    [run] = run_models([truth], options, make_context(options))
    outcomes = {d.name: d.check for d in run.definitions}
    moe = [name for name in outcomes if name.startswith("moe_")]
    assert moe and all(outcomes[name] == "skipped" for name in moe)
    checks = score_model(truth, TRUTH.signatures, run).checks
    assert checks.failed == 0 and checks.skipped == len(moe) and checks.passed == len(outcomes) - len(moe)
