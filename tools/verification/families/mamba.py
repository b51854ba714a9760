"""Mamba2 selective state update (`mamba_ssu_decode_*`, NemotronH): inputs and cases.

The definitions take A, D, dt_bias and dt at full width, but Mamba2 ties them over
head_dim (and A over dstate): one value per head, as the model's parameters are and as
FlashInfer's kernel reads them. A = -exp(U(0, 2.5)) per head (decays), dt_bias the
softplus-inverse of a step in [0.001, 0.1], dt near zero so that softplus(dt + dt_bias)
stays a small step; B and C per group, x per head. The state cache has a few slots more
than sequences, each sequence on its own slot.
"""

from __future__ import annotations

from typing import Any

import torch

from tools.verification.case import Case, Purpose
from tools.verification.families import Family
from tools.verification.tensors import const_axis, dtype_of


def _tied(per_head: torch.Tensor, shape: list[int], dtype: torch.dtype) -> torch.Tensor:
    """`per_head` values broadcast over the trailing dims of `shape`, materialised."""
    view = per_head.reshape(*per_head.shape, *([1] * (len(shape) - per_head.dim())))
    return view.expand(shape).to(dtype).contiguous()


def _mamba_inputs(definition: dict[str, Any], case: Case, gen: torch.Generator) -> dict[str, Any]:
    heads, dim, dstate, groups = (const_axis(definition, a) for a in ("nheads", "head_dim", "dstate", "ngroups"))
    batch = case.batch_size
    slots = batch + 3
    step = torch.rand(heads, generator=gen) * 0.099 + 0.001

    def rand(*shape, scale=1.0):
        return torch.randn(*shape, generator=gen) * scale

    return {
        "state": rand(slots, heads, dim, dstate, scale=0.5).to(dtype_of(definition, "state")),
        "x": rand(batch, heads, dim).to(dtype_of(definition, "x")),
        "dt": _tied(rand(batch, heads, scale=0.1), [batch, heads, dim], dtype_of(definition, "dt")),
        "A": _tied(-torch.exp(torch.rand(heads, generator=gen) * 2.5), [heads, dim, dstate], dtype_of(definition, "A")),
        "B": rand(batch, groups, dstate).to(dtype_of(definition, "B")),
        "C": rand(batch, groups, dstate).to(dtype_of(definition, "C")),
        "D": _tied(rand(heads), [heads, dim], dtype_of(definition, "D")),
        "dt_bias": _tied(torch.log(torch.expm1(step)), [heads, dim], dtype_of(definition, "dt_bias")),
        "state_batch_indices": torch.randperm(slots, generator=gen)[:batch].to(torch.int32),
    }


def _mamba_cases(definition: dict[str, Any], purpose: Purpose) -> list[Case]:
    cases = [Case(label="one sequence", batch_size=1), Case(label="5 sequences", batch_size=5)]
    if purpose == "verify":
        cases.append(Case(label="64 sequences (a decode batch)", batch_size=64))
    return cases


FAMILIES = [Family(name="mamba_ssu", matches=lambda d: d["op_type"] == "mamba_ssu", make_inputs=_mamba_inputs, cases=_mamba_cases)]
