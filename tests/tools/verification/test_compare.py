"""Element-wise comparison: flashinfer-bench's rule (wrong = beyond both atol and rtol),
NaN/Inf never pass, and a report that says where and by how much."""

import pytest
import torch

from tests.tools.verification.definitions import SMALL_GQA, build
from tools.verification.compare import compare_outputs, compare_tensor
from tools.verification.criteria import Tolerance, tolerance_for

BF16 = Tolerance(atol=1e-2, rtol=1e-2)


def test_identical_tensors_agree():
    x = torch.randn(4, 8).to(torch.bfloat16)
    report = compare_tensor("out", x, x.clone(), BF16)
    assert report.passed and report.mismatched == 0 and report.max_abs_error == 0.0 and report.matched_ratio == 1.0


def test_an_element_beyond_both_tolerances_fails_and_is_located():
    expected = torch.ones(3, 5)
    actual = expected.clone()
    actual[2, 4] = 1.5
    report = compare_tensor("out", expected, actual, BF16)
    assert not report.passed and report.problem == "tolerance"
    assert report.mismatched == 1 and report.total == 15
    assert report.samples[0].index == [2, 4]
    assert (report.samples[0].expected, report.samples[0].actual) == (1.0, 1.5)
    assert report.mismatched_rows == [2] and report.mismatched_row_count == 1
    assert report.max_abs_error == pytest.approx(0.5)
    assert "'out'" in report.message and "[2, 4]" in report.message and "0.5" in report.message


def test_an_element_within_either_tolerance_passes():
    expected = torch.tensor([100.0, 0.001])
    # 0.5 off at 100 is within rtol; 0.009 off at 0.001 is within atol
    actual = torch.tensor([100.5, 0.01])
    assert compare_tensor("out", expected, actual, BF16).passed


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_never_pass_even_where_both_sides_agree(bad):
    expected = torch.tensor([1.0, bad])
    report = compare_tensor("lse", expected, expected.clone(), BF16)
    assert not report.passed and report.problem == "non_finite"
    assert report.non_finite_actual == 1 and report.non_finite_expected == 1
    assert report.samples[0].index == [1]


def test_a_bounded_fraction_of_mismatches_passes_only_where_allowed():
    expected = torch.zeros(100)
    actual = expected.clone()
    actual[:4] = 1.0
    assert not compare_tensor("out", expected, actual, BF16).passed
    lowbit = Tolerance(atol=0.1, rtol=0.1, required_matched_ratio=0.95)
    assert compare_tensor("out", expected, actual, lowbit).passed
    actual[:6] = 1.0
    assert not compare_tensor("out", expected, actual, lowbit).passed


def test_shape_and_dtype_mismatches_are_named():
    x = torch.zeros(2, 3, dtype=torch.bfloat16)
    shape = compare_tensor("output", x, torch.zeros(3, 2, dtype=torch.bfloat16), BF16)
    assert shape.problem == "shape" and shape.actual_shape == [3, 2] and shape.expected_shape == [2, 3]
    dtype = compare_tensor("output", x, torch.zeros(2, 3, dtype=torch.float32), BF16, declared_dtype="bfloat16")
    assert dtype.problem == "dtype" and "float32" in dtype.message and "bfloat16" in dtype.message


def test_integer_outputs_must_match_exactly():
    expected = torch.tensor([3, 4, 5])
    assert not compare_tensor("ids", expected, torch.tensor([3, 4, 6]), BF16).passed
    assert compare_tensor("ids", expected, expected.clone(), BF16).passed


def test_missing_and_extra_outputs_are_reported_per_definition():
    definition = build("gqa_ragged_prefill", **SMALL_GQA)
    out, lse = torch.zeros(2, 4, 16, dtype=torch.bfloat16), torch.zeros(2, 4)
    missing = compare_outputs(definition, [out, lse], [out], BF16)
    assert [r.output for r in missing] == ["output", "lse"]
    assert missing[0].passed and missing[1].problem == "missing"
    extra = compare_outputs(definition, [out, lse], [out, lse, lse], BF16)
    assert extra[-1].problem == "missing" and "returned 3 values" in extra[-1].message


def test_worst_samples_come_first_and_are_bounded():
    expected = torch.zeros(50, 4)
    actual = torch.arange(200, dtype=torch.float32).reshape(50, 4) / 10
    report = compare_tensor("out", expected, actual, BF16)
    assert len(report.samples) == 8
    assert report.samples[0].index == [49, 3]
    assert [s.actual for s in report.samples] == sorted((s.actual for s in report.samples), reverse=True)
    assert len(report.mismatched_rows) == 32 and report.mismatched_row_count == 50


def test_tolerance_follows_the_least_precise_dtype():
    assert tolerance_for(build("gqa_ragged_prefill", **SMALL_GQA)) == Tolerance(atol=1e-2, rtol=1e-2)
    assert tolerance_for(build("top_k_sampling_from_probs", vocab_size=10)).atol == 1e-4
