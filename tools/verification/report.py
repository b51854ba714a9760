"""The mismatch report: what differed between a trusted implementation and a reference.

`expected` is always the trusted side (FlashInfer on a GPU, or a known-good reference),
`actual` the reference under test. The report is written for a reader who must fix the
reference, a person or the LLM repair loop: per case, which output differs, by how much,
where (a sample of positions with both values) and any exception with the side that
raised it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from tools.verification.criteria import Tolerance
from tools.verification.reference_check import WrongValue

Problem = Literal["missing", "shape", "dtype", "non_finite", "tolerance", "range", "support", "distribution"]
Side = Literal["expected", "actual", "inputs"]
Verdict = Literal["verified", "failed", "unverifiable"]
"""`verified`: the reference agrees with FlashInfer on every case; `failed`: it does not (the
mismatch report says where), or it raised; `unverifiable`: nothing here can judge it: no
binding, no kernel for this GPU, or the FlashInfer side could not run (the reason says which).
An unverifiable definition is not a failed one."""


class SupportViolation(BaseModel):
    """A token a sampler drew that the definition's filters exclude."""

    side: Literal["expected", "actual"]
    row: int
    """The distinct probability row (inputs repeat each row across the batch)."""
    token: int
    probability: float
    """The token's probability in the unfiltered row."""


class DistributionComparison(BaseModel):
    """Two samplers' draws from the same rows."""

    draws_expected: int
    """Draws per distinct row from the expected side."""
    draws_actual: int
    tvd_by_row: list[float]
    """Total-variation distance between the two frequency tables, per distinct row."""
    max_tvd: float
    max_tvd_allowed: float
    out_of_support: list[SupportViolation] = Field(default_factory=list)
    """A sample of draws outside the top-k / top-p set (at most a few per side)."""
    out_of_support_count: dict[str, int] = Field(default_factory=dict)
    """Draws outside the allowed set, by side."""
    out_of_range_count: dict[str, int] = Field(default_factory=dict)
    """Draws outside [0, vocab_size), by side."""


class OutputComparison(BaseModel):
    """One output of one case."""

    output: str
    passed: bool
    problem: Problem | None = None
    message: str
    """One line a reader can act on."""
    expected_shape: list[int] | None = None
    actual_shape: list[int] | None = None
    expected_dtype: str | None = None
    actual_dtype: str | None = None
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    mismatched: int = 0
    """Elements outside the tolerance."""
    total: int = 0
    matched_ratio: float | None = None
    tolerance: Tolerance | None = None
    non_finite_expected: int = 0
    non_finite_actual: int = 0
    samples: list[WrongValue] = Field(default_factory=list)
    """The worst wrong elements (largest absolute error first)."""
    mismatched_rows: list[int] = Field(default_factory=list)
    """The first indices along the leading axis (token, row, sequence) that hold a wrong element."""
    mismatched_row_count: int = 0
    distribution: DistributionComparison | None = None


class CaseComparison(BaseModel):
    """One input shape."""

    label: str
    passed: bool
    axes: dict[str, int] = Field(default_factory=dict)
    """Sizes of the definition's runtime axes in this case."""
    outputs: list[OutputComparison] = Field(default_factory=list)
    error: str | None = None
    """An exception that stopped the case."""
    error_side: Side | None = None
    """Who raised it: the expected implementation, the reference under test, or the input generator."""
    traceback: str | None = None
    seconds: dict[str, float] = Field(default_factory=dict)
    """Run time of each side, by side."""
    template_check: bool | None = None
    """The FlashInfer trace template's own `check` on the same outputs, where the binding
    names a template. Recorded, not gated on: it carries FlashInfer's unit-test tolerances
    for its own test inputs, which flashinfer-bench does not apply."""


class Comparison(BaseModel):
    """One definition, all its cases."""

    name: str
    passed: bool
    expected_source: str
    """What produced the expected outputs (`flashinfer.norm.rmsnorm`, `template reference`)."""
    verdict: Verdict | None = None
    """Set by verification against FlashInfer; None for comparisons of two references."""
    reason: str | None = None
    """Why the definition is unverifiable."""
    fi_api: str | None = None
    """The definition's `fi_api:` tag, if any."""
    api_used: str | None = None
    """The FlashInfer API the binding calls."""
    stands_in_for: str | None = None
    """The tagged API, when the binding calls another one (an SM90 kernel computing the same math)."""
    checked: str | None = None
    """What FlashInfer computed, when not the whole definition (MoE: experts yes, routing torch)."""
    binding: str | None = None
    """The binding compared against."""
    binding_values: dict[str, Any] = Field(default_factory=dict)
    """The constants it was specialized with for this definition."""
    actual_source: str
    cases: list[CaseComparison] = Field(default_factory=list)
    error: str | None = None
    """A failure before any case ran: no binding, a crash, a timeout, a FlashInfer build error."""
    traceback: str | None = None
    """Where that failure was raised, when it was an exception."""
    prepare_seconds: float | None = None
    """Time to build (JIT) and first run the FlashInfer binding, before the comparison."""
    seconds: float | None = None
    """Time of the comparison itself, all cases."""

    @property
    def summary(self) -> str:
        """The first failure in one line, or what passed."""
        if self.verdict == "unverifiable":
            return f"unverifiable: {self.reason}"
        if self.error:
            return self.error
        for case in self.cases:
            if case.error:
                return f"{case.label}: {case.error_side} raised {case.error}"
            for output in case.outputs:
                if not output.passed:
                    return f"{case.label}: {output.message}"
        return f"{len(self.cases)} cases agree with {self.expected_source}"
