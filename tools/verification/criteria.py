"""When two implementations agree: tolerances for tensors, statistics for samplers.

The defaults follow flashinfer-bench's evaluators, because a `status:verified`
definition promises that flashinfer-bench will accept FlashInfer's output against its
reference: an element is wrong only when both its absolute and its relative error exceed
the tolerance; a definition fails when the fraction of right elements is below the
required ratio (1.0, except for low-bit kernels); NaN and Inf never pass. Samplers are
compared by the tokens they may draw and by the frequencies they draw them at.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Tolerance(BaseModel):
    """Element-wise agreement of two tensors."""

    atol: float = Field(ge=0)
    """An element is wrong when |expected - actual| > atol ..."""
    rtol: float = Field(ge=0)
    """... and |expected - actual| / |expected| > rtol."""
    required_matched_ratio: float = Field(default=1.0, gt=0, le=1)
    """The least fraction of elements that must be right."""


class SamplingCriteria(BaseModel):
    """Agreement of two samplers, judged from many draws of the same rows."""

    draws: int = Field(default=2048, gt=0)
    """Draws per distinct row from a reference (slow: a Python loop per row)."""
    baseline_draws: int = Field(default=32768, gt=0)
    """Draws per distinct row from FlashInfer, cheap enough to make its frequencies nearly exact."""
    max_tvd: float = Field(default=0.1, gt=0, le=1)
    """Largest total-variation distance allowed between the two frequency tables of a row.

    With at most ~20 likely tokens and 2048 draws the sampling noise is ~0.04, so a
    correct reference stays far below; a wrong filter moves whole tokens' mass."""
    top_p_slack: float = Field(default=0.05, ge=0)
    """A token is inside the top-p set when the mass of more probable tokens is below
    top_p plus this slack (rounding at the nucleus boundary, as flashinfer-bench allows)."""


# By the least precise floating dtype among a definition's tensors: 16-bit kernels get
# flashinfer-bench's default 1e-2; float32 kernels reduce in float32, so only summation
# order differs; 8-bit kernels get the low-bit evaluator's 95% matched ratio.
_TOLERANCE_BY_DTYPE = {
    "float32": Tolerance(atol=1e-4, rtol=1e-4),
    "float16": Tolerance(atol=1e-2, rtol=1e-2),
    "bfloat16": Tolerance(atol=1e-2, rtol=1e-2),
    "float8_e4m3fn": Tolerance(atol=1e-1, rtol=1e-1, required_matched_ratio=0.95),
    "float8_e5m2": Tolerance(atol=1e-1, rtol=1e-1, required_matched_ratio=0.95),
}
_PRECISION_ORDER = ("float8_e5m2", "float8_e4m3fn", "bfloat16", "float16", "float32")

EXACT = Tolerance(atol=0.0, rtol=0.0)
"""For integer and boolean outputs."""


def tolerance_for(definition: dict[str, Any]) -> Tolerance:
    """The tolerance for a definition's floating outputs, from its least precise dtype."""
    dtypes = {spec["dtype"] for group in ("inputs", "outputs") for spec in definition[group].values()}
    for dtype in _PRECISION_ORDER:
        if dtype in dtypes:
            return _TOLERANCE_BY_DTYPE[dtype]
    return _TOLERANCE_BY_DTYPE["float32"]
