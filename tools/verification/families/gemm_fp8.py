"""FP8 GEMM with 128-block scales (`gemm_fp8_nt_groupwise_*`, quantised checkpoints): inputs and cases.

a [M, K] and b [N, K] in FP8 e4m3 with float32 scales per 128 columns of a row of a
(a_scale [M, K/128]) and per 128 x 128 block of b (b_scale [N/128, K/128]), quantised from
random values whose magnitude differs block to block by up to 2^5: a reference reading
the wrong scale block is off by that factor, not by the few percent two random blocks'
maxima differ. Rows: one token and few tokens (the SM90 kernel's swapped-operand path
below 32 rows) and more (its normal path).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from tools.verification.case import Case, Purpose
from tools.verification.families import Family
from tools.verification.family_inputs import BLOCK, quantize_fp8_blocks


def _magnitudes(rows: int, cols: int, row_block: int, gen: torch.Generator) -> torch.Tensor:
    """A factor 2^U{-2..2} per block of `row_block` x 128, expanded to [rows, cols]."""
    grid = torch.exp2(torch.randint(-2, 3, (-(-rows // row_block), cols // BLOCK), generator=gen).float())
    return grid.repeat_interleave(row_block, 0)[:rows].repeat_interleave(BLOCK, 1)


def _gemm_fp8_inputs(definition: dict[str, Any], case: Case, gen: torch.Generator) -> dict[str, Any]:
    n, k = (definition["axes"][axis]["value"] for axis in ("N", "K"))
    m = case.batch_size
    a, a_scale = quantize_fp8_blocks(torch.randn(m, k, generator=gen) * _magnitudes(m, k, 1, gen), (BLOCK,))
    # N need not be a multiple of 128 (DeepSeek's kv_a projection: 576): the last row block is partial.
    rows = -(-n // BLOCK) * BLOCK
    b, b_scale = quantize_fp8_blocks(torch.randn(rows, k, generator=gen) * _magnitudes(rows, k, BLOCK, gen) / math.sqrt(k), (BLOCK, BLOCK))
    return {"a": a, "b": b[:n].contiguous(), "a_scale": a_scale.contiguous(), "b_scale": b_scale.contiguous()}


def _gemm_fp8_cases(definition: dict[str, Any], purpose: Purpose) -> list[Case]:
    cases = [Case(label="one row (a single decode token)", batch_size=1), Case(label="7 rows", batch_size=7)]
    if purpose == "verify":
        cases += [Case(label="64 rows", batch_size=64), Case(label="200 rows (not a multiple of the tile)", batch_size=200)]
    return cases


FAMILIES = [Family(name="gemm_fp8", matches=lambda d: d["op_type"] == "gemm_fp8", make_inputs=_gemm_fp8_inputs, cases=_gemm_fp8_cases)]
