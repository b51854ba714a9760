"""Statistical comparison of two samplers: where they may draw, and how often they do.

A sampler is right when every draw lies inside the set its filters allow (top-k, then
top-p on the renormalised top-k distribution) and when its token frequencies match the
other sampler's on the same rows, within a total-variation distance. Inputs repeat a
few distinct probability rows across the batch; draws are counted per distinct row.
"""

from __future__ import annotations

import torch

from tools.verification.criteria import SamplingCriteria
from tools.verification.report import DistributionComparison, OutputComparison, SupportViolation

VIOLATIONS_LISTED = 4
"""Out-of-set draws listed per side."""


def allowed_tokens(probs: torch.Tensor, top_k: torch.Tensor | None, top_p: torch.Tensor | None, slack: float) -> torch.Tensor:
    """Bool [rows, vocab]: the tokens a top-k / top-p sampler may draw from each row.

    Ties at the k-th probability are all allowed. A token passes top-p when the
    (renormalised) mass of strictly more probable tokens is below top_p + `slack`.
    """
    probs = probs.to(torch.float32)
    rows, vocab = probs.shape
    allowed = torch.ones_like(probs, dtype=torch.bool)
    filtered = probs
    if top_k is not None:
        k = top_k.to(probs.device).long().reshape(-1)
        ordered = probs.sort(dim=-1, descending=True).values
        pivot = ordered.gather(1, (k.clamp(1, vocab) - 1).unsqueeze(1))
        applies = ((k > 0) & (k < vocab)).unsqueeze(1)
        allowed &= ~applies | (probs >= pivot)
        filtered = probs * allowed
        filtered = filtered / filtered.sum(dim=-1, keepdim=True)
    if top_p is not None:
        p = top_p.to(probs.device).to(torch.float32).reshape(-1, 1)
        ascending = filtered.sort(dim=-1).values
        cumulative = ascending.cumsum(dim=-1)
        at_most = torch.searchsorted(ascending.contiguous(), filtered.contiguous(), right=True)
        mass_at_most = cumulative.gather(1, (at_most - 1).clamp(min=0))
        more_probable = cumulative[:, -1:] - mass_at_most
        allowed &= (p >= 1.0) | (more_probable < p + slack)
    return allowed


def count_draws(counts: torch.Tensor, samples: torch.Tensor) -> int:
    """Add a batch of draws to `counts` [distinct rows, vocab]; batch row i is distinct row i % rows.

    Returns the number of draws outside [0, vocab), which are not counted.
    """
    rows, vocab = counts.shape
    samples = samples.reshape(-1).to(counts.device).long()
    row_of = torch.arange(samples.numel(), device=counts.device) % rows
    valid = (samples >= 0) & (samples < vocab)
    flat = row_of[valid] * vocab + samples[valid]
    counts += torch.bincount(flat, minlength=rows * vocab).reshape(rows, vocab)
    return int((~valid).sum())


def compare_draws(
    name: str,
    expected_counts: torch.Tensor,
    actual_counts: torch.Tensor,
    allowed: torch.Tensor,
    probs: torch.Tensor,
    criteria: SamplingCriteria,
    out_of_range: dict[str, int],
) -> OutputComparison:
    """Judge the actual sampler against the expected one from their draw counts."""
    expected_counts, actual_counts = expected_counts.to(allowed.device), actual_counts.to(allowed.device)
    tvd = [_tvd(e, a) for e, a in zip(expected_counts, actual_counts)]
    violations: list[SupportViolation] = []
    outside: dict[str, int] = {}
    for side, counts in (("expected", expected_counts), ("actual", actual_counts)):
        bad = (counts > 0) & ~allowed
        outside[side] = int(counts[bad].sum())
        for row, token in bad.nonzero()[:VIOLATIONS_LISTED].tolist():
            violations.append(SupportViolation(side=side, row=row, token=token, probability=float(probs[row, token])))
    distribution = DistributionComparison(
        draws_expected=int(expected_counts[0].sum()) + out_of_range.get("expected", 0),
        draws_actual=int(actual_counts[0].sum()) + out_of_range.get("actual", 0),
        tvd_by_row=[round(t, 5) for t in tvd],
        max_tvd=max(tvd),
        max_tvd_allowed=criteria.max_tvd,
        out_of_support=violations,
        out_of_support_count=outside,
        out_of_range_count=out_of_range,
    )
    report = OutputComparison(output=name, passed=False, message="", distribution=distribution)
    who = {"actual": "the reference", "expected": "the expected sampler"}
    for side in ("actual", "expected"):
        if out_of_range.get(side):
            return _fail(report, "range", f"output {name!r}: {who[side]} drew {out_of_range[side]} tokens outside [0, {allowed.shape[1]})")
    for side in ("actual", "expected"):
        if outside[side]:
            first = next(v for v in violations if v.side == side)
            return _fail(
                report,
                "support",
                f"output {name!r}: {who[side]} drew {outside[side]} times outside the top-k/top-p set, e.g. token {first.token} "
                f"of row {first.row} (probability {first.probability:.3g})",
            )
    worst = max(range(len(tvd)), key=tvd.__getitem__)
    if tvd[worst] > criteria.max_tvd:
        return _fail(
            report,
            "distribution",
            f"output {name!r}: token frequencies differ from the expected sampler's: total-variation distance "
            f"{tvd[worst]:.3f} in row {worst} (allowed {criteria.max_tvd})",
        )
    return report.model_copy(update={"passed": True, "message": f"output {name!r}: same support, max total-variation distance {max(tvd):.3f}"})


def _tvd(expected: torch.Tensor, actual: torch.Tensor) -> float:
    e, a = expected.to(torch.float64), actual.to(torch.float64)
    if e.sum() == 0 or a.sum() == 0:
        return 1.0
    return float(0.5 * (e / e.sum() - a / a.sum()).abs().sum())


def _fail(report: OutputComparison, problem: str, message: str) -> OutputComparison:
    return report.model_copy(update={"problem": problem, "message": message})
