"""The comparison, on the CPU, between a template reference and deliberately wrong ones.

Each wrong reference is a one-line edit of FlashInfer's own template reference, the
kind of slip a drafted reference makes. The comparison must fail it, name the output
that differs and say by how much; the unedited reference must pass.
"""

import pytest

from tests.tools.verification.definitions import SMALL_GQA, build
from tools.verification.inputs import default_cases
from tools.verification.sandbox import SandboxLimits
from tools.verification.verify import compare_references

LIMITS = SandboxLimits(timeout_s=120, memory_bytes=8 * 1024**3)


def edited(source: str, old: str, new: str) -> str:
    assert old in source, f"the template reference no longer contains {old!r}"
    return source.replace(old, new)


def compare(definition, purpose="check", **candidates):
    """Each edited reference against the template's, on the `check` cases (cheap on a CPU) or all `verify` cases."""
    reference = definition["reference"]
    sources = {label: edited(reference, *edit) for label, edit in candidates.items()}
    cases = default_cases(definition, purpose)
    return compare_references(definition, reference, {"same": reference, **sources}, cases=cases, limits=LIMITS, expected_label="template reference")


def failing_outputs(report):
    return {o.output for case in report.cases for o in case.outputs if not o.passed}


@pytest.fixture(scope="module")
def paged_prefill():
    definition = build("gqa_paged_prefill", **SMALL_GQA, page_size=1)
    return definition, compare(
        definition,
        "verify",
        scale=("* sm_scale", "* sm_scale * 2.0"),
        mask=("max_kv = min(q_idx + 1 + delta, num_kv_tokens)", "max_kv = min(q_idx + 1, num_kv_tokens)"),
        gqa=("kv_h = h // gqa_ratio", "kv_h = h % num_kv_heads"),
    )


def test_the_template_reference_agrees_with_itself(paged_prefill):
    _, reports = paged_prefill
    same = reports["same"]
    assert same.passed, same.summary
    assert [c.label for c in same.cases][-1].startswith("4 sequences, 512 query tokens")
    assert all(o.max_abs_error == 0.0 for c in same.cases for o in c.outputs)


@pytest.mark.parametrize("mistake", ["scale", "mask", "gqa"])
def test_a_wrong_attention_reference_fails_with_the_output_and_error_size(paged_prefill, mistake):
    _, reports = paged_prefill
    report = reports[mistake]
    assert not report.passed
    assert "output" in failing_outputs(report)
    worst = max((o for c in report.cases for o in c.outputs if not o.passed), key=lambda o: o.max_abs_error)
    assert worst.problem == "tolerance" and worst.max_abs_error > 0.1 and worst.mismatched > 0
    assert worst.samples and worst.samples[0].expected != worst.samples[0].actual
    assert "output 'output'" in report.summary or "output 'lse'" in report.summary


def test_a_causal_mask_aligned_to_the_wrong_corner_only_shows_with_a_cached_prefix(paged_prefill):
    _, reports = paged_prefill
    verdicts = {case.label: case.passed for case in reports["mask"].cases}
    assert verdicts["no cached prefix (q_len == kv_len)"]
    assert not verdicts["queries after a cached prefix spanning pages"]


def test_a_paged_reference_that_ignores_the_last_page_length_fails_only_mid_page():
    definition = build("gqa_paged_decode", **SMALL_GQA, page_size=4)
    full_pages = ("count = (end - start - 1) * cache.shape[1] + int(kv_last_page_len[b])", "count = (end - start) * cache.shape[1]")
    reports = compare(definition, full_pages=full_pages)
    assert reports["same"].passed, reports["same"].summary
    verdicts = {case.label: case.passed for case in reports["full_pages"].cases}
    assert verdicts["sequences ending on page boundaries (1, 2, 3 pages)"]
    assert not verdicts["sequences ending mid-page (last pages of 1, 1, half and all but one tokens)"]


def test_an_lse_in_the_wrong_base_fails_only_the_lse():
    definition = build("gqa_paged_decode", **SMALL_GQA, page_size=1)
    reports = compare(definition, natural_log=("torch.logsumexp(logits, dim=-1) / math.log(2.0)", "torch.logsumexp(logits, dim=-1)"))
    assert reports["same"].passed
    assert failing_outputs(reports["natural_log"]) == {"lse"}


def test_a_ragged_reference_with_a_wrong_causal_mask_fails():
    definition = build("gqa_ragged_prefill", **SMALL_GQA)
    reports = compare(definition, mask=("max_kv = min(q_idx + 1 + delta, num_kv_tokens)", "max_kv = num_kv_tokens"))
    assert reports["same"].passed, reports["same"].summary
    assert not reports["mask"].passed and "output" in failing_outputs(reports["mask"])


def test_norm_and_gemm_mistakes_fail():
    norm = build("fused_add_rmsnorm", hidden_size=64)
    reports = compare(norm, no_residual=("hidden_states.to(torch.float32) + residual.to(torch.float32)", "hidden_states.to(torch.float32)"))
    assert reports["same"].passed and not reports["no_residual"].passed
    gemm = build("gemm", N=48, K=32)
    reports = compare(gemm, transposed=("A.to(torch.float32) @ B.to(torch.float32).T", "A.to(torch.float32) @ B[:32].to(torch.float32)"))
    transposed = reports["transposed"]
    assert not transposed.passed
    assert {o.problem for c in transposed.cases for o in c.outputs} == {"shape"}


def test_a_reference_that_raises_or_returns_nan_is_reported_as_such():
    definition = build("rmsnorm", hidden_size=64)
    reports = compare(
        definition,
        raises=("EPS = 1e-6", "EPS = 1e-6\n    raise ValueError('not implemented')"),
        nan=("return y.to(hidden_states.dtype)", "return (y * float('nan')).to(hidden_states.dtype)"),
    )
    raising = reports["raises"].cases[0]
    assert raising.error_side == "actual" and "ValueError: not implemented" in raising.error
    nan = reports["nan"].cases[0].outputs[0]
    assert nan.problem == "non_finite" and nan.non_finite_actual == nan.total


@pytest.mark.parametrize(
    "family, mistake, edit, problem",
    [
        ("top_k_sampling_from_probs", "k_plus_one", ("idx_sorted[:k]", "idx_sorted[:k + 1]"), "support"),
        ("top_p_sampling_from_probs", "nucleus_one_short", ("to_remove[1:] = to_remove[:-1].clone()", "pass"), "distribution"),
        ("top_k_top_p_sampling_from_probs", "no_top_p", ("if p < 1.0:", "if False:"), "support"),
    ],
)
def test_a_wrong_sampler_is_caught_by_its_draws(family, mistake, edit, problem):
    definition = build(family, vocab_size=64)
    reports = compare(definition, "verify", **{mistake: edit})
    same = reports["same"]
    assert same.passed, same.summary
    # independent draws of the same sampler differ only by sampling noise
    assert max(o.distribution.max_tvd for c in same.cases for o in c.outputs) < 0.08
    wrong = reports[mistake]
    assert not wrong.passed
    assert problem in {o.problem for c in wrong.cases for o in c.outputs}
    assert "output 'samples'" in wrong.summary


def test_a_comparison_reads_as_a_verifier_check_for_the_repair_prompt():
    from tools.verification.verifier import describe_failure
    from tools.verification.verify import as_reference_check

    definition = build("gqa_ragged_prefill", **SMALL_GQA)
    report = compare(definition, scale=("* sm_scale", "* sm_scale * 2.0"))["scale"]
    check = as_reference_check(report)
    assert not check.passed and check.error == report.summary
    # one query token over one key: the output is that key's value whatever the scale; only the LSE moves
    assert [m.output for m in check.mismatches if m.case == "one token"] == ["lse"]
    assert {m.output for m in check.mismatches} == {"output", "lse"} and all(m.sample for m in check.mismatches)
    text = describe_failure(check)
    assert "output 'output' (case 'queries after a cached prefix') differs" in text
    assert "max abs error" in text and "elements outside the tolerance" in text
