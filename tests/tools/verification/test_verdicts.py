"""Verdicts from what the sandboxed worker reports, and how jobs are spread over workers.

The worker's result lines are the protocol between the sandbox and the parent: an `ok`
flag, the cases with the side that raised, and `stage: prepare` when the FlashInfer side
failed before any reference ran. A failure of the reference is `failed`; a FlashInfer side
that cannot run here is `unverifiable`, never a failure.
"""

from tests.tools.verification.definitions import build
from tools.verification.bindings import binding_named
from tools.verification.bindings.lookup import resolve
from tools.verification.verify import binding_side, partition, read_result, verify_against_flashinfer

RMSNORM = build("rmsnorm", hidden_size=64)
JOB = {"id": RMSNORM["name"], "definition": RMSNORM, "expected": binding_side(binding_named("rmsnorm")), "actual": {"label": "reference"}}


def case(label, passed=True, error=None, side=None):
    return {"label": label, "passed": passed, "error": error, "error_side": side, "outputs": []}


def test_every_case_agreeing_is_verified_and_names_the_api():
    report = read_result(JOB, {"ok": True, "cases": [case("a"), case("b")]})
    assert report.verdict == "verified" and report.passed
    assert report.api_used == "flashinfer.norm.rmsnorm" and report.fi_api == "flashinfer.norm.rmsnorm" and report.stands_in_for is None


def test_a_reference_that_raises_or_differs_fails_even_beside_a_case_flashinfer_could_not_run():
    report = read_result(JOB, {"ok": True, "cases": [case("a", False, "ValueError: x", "expected"), case("b", False, "IndexError: y", "actual")]})
    assert report.verdict == "failed"


def test_a_case_only_flashinfer_could_not_run_is_unverifiable_with_its_error():
    report = read_result(JOB, {"ok": True, "cases": [case("a"), case("big", False, "ValueError: Invalid configuration", "expected")]})
    assert report.verdict == "unverifiable" and report.reason == "case 'big': FlashInfer raised ValueError: Invalid configuration"
    inputs = read_result(JOB, {"ok": True, "cases": [case("a", False, "ValueError: no size", "inputs")]})
    assert inputs.verdict == "unverifiable" and "the input generator raised" in inputs.reason


def test_a_kernel_that_does_not_build_here_is_unverifiable_not_failed():
    built = read_result(JOB, {"ok": False, "stage": "prepare", "error": "timed out building the FlashInfer binding after 300 s"})
    assert built.verdict == "unverifiable"
    assert built.reason == "the FlashInfer kernel could not be built or run on this machine: timed out building the FlashInfer binding after 300 s"
    crashed = read_result(JOB, {"ok": False, "error": "worker killed by SIGSEGV"})
    assert crashed.verdict == "failed"


def test_a_comparison_of_two_references_has_no_verdict():
    job = dict(JOB, expected={"reference": RMSNORM["reference"], "label": "template"})
    assert read_result(job, {"ok": True, "cases": [case("a")]}).verdict is None


def test_a_binding_for_another_gpu_is_unverifiable_before_anything_runs():
    fp8 = build("gemm_fp8_block_scale", N=256, K=512)
    report = verify_against_flashinfer([fp8], compute_capability=(10, 0))[fp8["name"]]
    assert report.verdict == "unverifiable" and report.cases == []
    assert report.reason == "flashinfer.gemm.fp8_blockscale_gemm_sm90 runs on SM90 only; this GPU is SM100"
    assert report.stands_in_for.endswith("gemm_fp8_nt_groupwise")


def test_jobs_of_one_binding_stay_on_one_worker_and_fast_builds_come_first():
    definitions = [build("rmsnorm", hidden_size=h) for h in (64, 128, 256)] + [build("top_k_sampling_from_probs", vocab_size=v) for v in (100, 200)]
    definitions.append(build("gemm_fp8_block_scale", N=256, K=512))
    bindings = {d["name"]: resolve(d).binding for d in definitions}
    jobs = [{"id": d["name"], "definition": d} for d in definitions]
    parts = partition(jobs, bindings, 2)
    assert sorted(j["id"] for part in parts for j in part) == sorted(bindings)
    owner = {j["id"]: i for i, part in enumerate(parts) for j in part}
    assert len({owner[d["name"]] for d in definitions[:3]}) == 1 and len({owner[d["name"]] for d in definitions[3:5]}) == 1
    for part in parts:
        seconds = [bindings[j["id"]].build_seconds for j in part]
        assert seconds == sorted(seconds)
    # rmsnorm builds in 39 s, sampling in 85 s, the FP8 GEMM in 148 s.
    assert [j["id"] for j in partition(jobs, bindings, 1)[0]] == [d["name"] for d in definitions]
