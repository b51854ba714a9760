"""Element-wise comparison of a definition's outputs, with a report of what differs.

Pure functions of tensors (CPU or GPU): the same comparison judges a reference against
FlashInfer on a GPU and one reference against another on the CPU.
"""

from __future__ import annotations

from typing import Any

import torch

from tools.verification.criteria import EXACT, Tolerance
from tools.verification.reference_check import WrongValue
from tools.verification.report import OutputComparison

SAMPLE_COUNT = 8
"""Wrong elements listed per output."""
ROW_COUNT = 32
"""Leading-axis indices with wrong elements listed per output."""
_REL_EPS = 1e-8  # as flashinfer-bench: relative error of an expected zero is the absolute error / 1e-8


def compare_outputs(definition: dict[str, Any], expected: list[Any], actual: list[Any], tolerance: Tolerance) -> list[OutputComparison]:
    """Compare the outputs of two implementations of `definition`, in its output order."""
    names = list(definition["outputs"])
    results = []
    for index, name in enumerate(names):
        declared = definition["outputs"][name]["dtype"]
        want = expected[index] if index < len(expected) else None
        got = actual[index] if index < len(actual) else None
        results.append(compare_tensor(name, want, got, tolerance, declared_dtype=declared))
    if len(actual) > len(names):
        results.append(
            OutputComparison(
                output="(outputs)",
                passed=False,
                problem="missing",
                message=f"run() returned {len(actual)} values; the definition declares {len(names)} outputs {names}",
            )
        )
    return results


def compare_tensor(
    name: str, expected: Any, actual: Any, tolerance: Tolerance, *, declared_dtype: str | None = None
) -> OutputComparison:
    """Compare one output. `expected` is the trusted side."""
    for side, value in (("expected", expected), ("actual", actual)):
        if not isinstance(value, torch.Tensor):
            who = "the reference" if side == "actual" else "the expected implementation"
            return OutputComparison(
                output=name, passed=False, problem="missing", message=f"{who} returned no tensor for output {name!r} (got {type(value).__name__})"
            )
    report = OutputComparison(
        output=name,
        passed=False,
        message="",
        expected_shape=list(expected.shape),
        actual_shape=list(actual.shape),
        expected_dtype=_dtype_name(expected),
        actual_dtype=_dtype_name(actual),
        total=expected.numel(),
    )
    if expected.shape != actual.shape:
        return _fail(report, "shape", f"output {name!r} has shape {list(actual.shape)}, expected {list(expected.shape)}")
    declared = declared_dtype or report.expected_dtype
    if report.actual_dtype != declared:
        return _fail(report, "dtype", f"output {name!r} has dtype {report.actual_dtype}; the definition declares {declared}")
    if report.expected_dtype != declared:
        return _fail(report, "dtype", f"the expected implementation returned {name!r} as {report.expected_dtype}, not the declared {declared}")
    if expected.numel() == 0:
        return report.model_copy(update={"passed": True, "matched_ratio": 1.0, "message": f"output {name!r} is empty on both sides"})
    if not (expected.is_floating_point() or actual.is_floating_point()):
        tolerance = EXACT
    report.tolerance = tolerance
    return _compare_values(report, expected.detach(), actual.detach(), tolerance)


def _compare_values(report: OutputComparison, expected: torch.Tensor, actual: torch.Tensor, tolerance: Tolerance) -> OutputComparison:
    want, got = expected.to(torch.float32), actual.to(torch.float32)
    finite = torch.isfinite(want) & torch.isfinite(got)
    report.non_finite_expected = int((~torch.isfinite(want)).sum())
    report.non_finite_actual = int((~torch.isfinite(got)).sum())
    abs_error = torch.where(finite, (want - got).abs(), torch.zeros_like(want))
    rel_error = abs_error / (want.abs() + _REL_EPS)
    wrong = ((abs_error > tolerance.atol) & (rel_error > tolerance.rtol)) | ~finite
    report.max_abs_error = float(abs_error.max())
    report.max_rel_error = float(rel_error.max())
    report.mismatched = int(wrong.sum())
    report.matched_ratio = 1.0 - report.mismatched / report.total
    if report.mismatched:
        _locate(report, want, got, abs_error, wrong)
    name = report.output
    if report.non_finite_expected or report.non_finite_actual:
        return _fail(
            report,
            "non_finite",
            f"output {name!r} has non-finite values: {report.non_finite_actual} in the reference, "
            f"{report.non_finite_expected} in the expected output (NaN and Inf never pass)",
        )
    if report.matched_ratio < tolerance.required_matched_ratio:
        worst = report.samples[0]
        return _fail(
            report,
            "tolerance",
            f"output {name!r}: {report.mismatched} of {report.total} elements ({100 * (1 - report.matched_ratio):.2f}%) "
            f"differ beyond atol={tolerance.atol:g}, rtol={tolerance.rtol:g}; max abs error {report.max_abs_error:.3g}, "
            f"max rel error {report.max_rel_error:.3g}; worst at {worst.index}: expected {worst.expected:.5g}, got {worst.actual:.5g}",
        )
    report.passed = True
    report.message = f"output {name!r} agrees: max abs error {report.max_abs_error:.3g}, {report.mismatched} elements outside the tolerance"
    return report


def _locate(report: OutputComparison, want: torch.Tensor, got: torch.Tensor, abs_error: torch.Tensor, wrong: torch.Tensor) -> None:
    """Fill in the worst wrong elements and the leading-axis indices that hold any."""
    # Non-finite elements rank first: they are the most informative to see.
    severity = torch.where(wrong, torch.nan_to_num(abs_error, nan=0.0) + 1.0, torch.zeros_like(abs_error))
    severity = torch.where(wrong & (~torch.isfinite(want) | ~torch.isfinite(got)), torch.full_like(severity, float("inf")), severity)
    count = min(SAMPLE_COUNT, report.mismatched)
    _, flat = torch.topk(severity.flatten(), count)
    for position in flat.tolist():
        index = _unravel(position, list(want.shape))
        report.samples.append(WrongValue(index=index, expected=float(want.flatten()[position]), actual=float(got.flatten()[position])))
    if want.dim() >= 1:
        rows = wrong.reshape(wrong.shape[0], -1).any(dim=1).nonzero().flatten()
        report.mismatched_row_count = int(rows.numel())
        report.mismatched_rows = rows[:ROW_COUNT].tolist()


def _unravel(position: int, shape: list[int]) -> list[int]:
    index = []
    for size in reversed(shape):
        index.append(position % size)
        position //= size
    return list(reversed(index))


def _fail(report: OutputComparison, problem: str, message: str) -> OutputComparison:
    return report.model_copy(update={"passed": False, "problem": problem, "message": message})


def _dtype_name(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).replace("torch.", "")
