"""Row-wise kernels: RMSNorm (plain and fused with the residual add), LayerNorm and GEMM.

One runtime axis, the number of rows (tokens); every other axis is constant.
"""

from __future__ import annotations

from typing import Any

import torch

from tools.verification.case import Case, Purpose
from tools.verification.families import Family
from tools.verification.tensors import DTYPES, fill_random, randn

MAX_TOKENS = 8192
"""Tokens in one forward pass at most: SGLang's default chunked-prefill size."""
TENSOR_BUDGET_BYTES = 1 << 30
"""The largest-batch case is capped so one side's inputs and outputs fit in this."""

_ROW_AXES = ("batch_size", "M", "num_tokens", "total_q")


def _row_inputs(definition: dict[str, Any], case: Case, generator: torch.Generator) -> dict[str, Any]:
    sizes = {axis: case.batch_size for axis in _ROW_AXES}
    return fill_random(definition, {**sizes, **case.extra}, generator)


def _gemm_inputs(definition: dict[str, Any], case: Case, generator: torch.Generator) -> dict[str, Any]:
    """A and the weight B [N, K] with variance 1/K, so that C stays of order one (float16)."""
    n, k = (definition["axes"][a]["value"] for a in ("N", "K"))
    weight = randn((n, k), DTYPES[definition["inputs"]["B"]["dtype"]], generator, scale=k**-0.5)
    return fill_random(definition, {"M": case.batch_size, **case.extra}, generator, {"B": weight})


def _row_bytes(definition: dict[str, Any]) -> int:
    """Bytes per row over the tensors whose leading axis is the row axis."""
    total = 0
    for spec in (*definition["inputs"].values(), *definition["outputs"].values()):
        shape = spec["shape"] or []
        if shape and shape[0] in _ROW_AXES:
            width = 1
            for axis in shape[1:]:
                width *= definition["axes"][axis].get("value", 1)
            total += width * torch.empty((), dtype=DTYPES[spec["dtype"]]).element_size()
    return max(total, 1)


def largest_batch(definition: dict[str, Any]) -> int:
    return max(1, min(MAX_TOKENS, TENSOR_BUDGET_BYTES // _row_bytes(definition)))


def _row_cases(definition: dict[str, Any], purpose: Purpose) -> list[Case]:
    if purpose == "check":
        return [Case(label="one row", batch_size=1), Case(label="several rows", batch_size=5)]
    rows = largest_batch(definition)
    return [
        Case(label="one row (a single decode token)", batch_size=1),
        Case(label="37 rows (not a multiple of any tile)", batch_size=37),
        Case(label=f"{rows} rows (the largest prefill chunk)", batch_size=rows),
    ]


FAMILIES = [
    Family(name="rmsnorm", matches=lambda d: d["op_type"] == "rmsnorm", make_inputs=_row_inputs, cases=_row_cases),
    Family(name="layernorm", matches=lambda d: d["op_type"] == "layernorm", make_inputs=_row_inputs, cases=_row_cases),
    Family(name="gemm", matches=lambda d: d["op_type"] == "gemm", make_inputs=_gemm_inputs, cases=_row_cases),
]
