"""Sampling from probabilities with top-k and/or top-p filters.

Rows are peaked the way a language model's are: a few likely tokens carry nearly all
the mass over a long tail, so that top-k and top-p select small sets and a few thousand
draws measure the frequencies well. A verification case repeats a few distinct rows
across the batch, each with its own filter values (edge values included: greedy k=1,
no filtering, a top-p that keeps only the top token); draws are counted per distinct row.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from tools.verification.case import Case, Purpose
from tools.verification.criteria import SamplingCriteria
from tools.verification.families import Family
from tools.verification.tensors import const_axis, dtype_of

HOT_TOKENS = 16
"""Likely tokens per row."""
DISTINCT_ROWS = 4
REPEATS = 64
"""Copies of each distinct row in a verification batch (FlashInfer draws them in one call)."""


def peaked_rows(rows: int, vocab: int, generator: torch.Generator) -> torch.Tensor:
    """float32 [rows, vocab] probability rows with ~99.9% of the mass on HOT_TOKENS tokens."""
    logits = torch.randn(rows, vocab, generator=generator)
    hot = min(HOT_TOKENS, vocab)
    boost = math.log(vocab) + 4.0  # the tail's total mass is then ~e^-4 / hot of the hot mass
    for row in range(rows):
        tokens = torch.randperm(vocab, generator=generator)[:hot]
        logits[row, tokens] += boost
    return torch.softmax(logits, dim=-1)


def _row_values(case: Case, name: str, distinct: int, default: torch.Tensor) -> torch.Tensor:
    given = case.values.get(name)
    if given is None:
        return default
    return torch.tensor([given[i % len(given)] for i in range(distinct)])


def _sampling_inputs(definition: dict[str, Any], case: Case, generator: torch.Generator) -> dict[str, Any]:
    vocab = const_axis(definition, "vocab_size")
    distinct = case.extra.get("distinct_rows", case.batch_size)
    if case.batch_size % distinct:
        raise ValueError(f"case {case.label!r}: batch {case.batch_size} is not a multiple of {distinct} distinct rows")
    repeats = case.batch_size // distinct
    rows = peaked_rows(distinct, vocab, generator)
    values: dict[str, Any] = {"probs": rows.repeat(repeats, 1).to(dtype_of(definition, "probs"))}
    if "top_k" in definition["inputs"]:
        default = torch.randint(1, min(vocab, HOT_TOKENS) + 1, (distinct,), generator=generator)
        values["top_k"] = _row_values(case, "top_k", distinct, default).round().repeat(repeats).to(dtype_of(definition, "top_k"))
    if "top_p" in definition["inputs"]:
        default = torch.rand(distinct, generator=generator) * 0.85 + 0.1
        values["top_p"] = _row_values(case, "top_p", distinct, default).repeat(repeats).to(dtype_of(definition, "top_p"))
    return values


def _sampling_cases(definition: dict[str, Any], purpose: Purpose) -> list[Case]:
    if purpose == "check":
        return [Case(label="one row", batch_size=1), Case(label="several rows", batch_size=5)]
    vocab = const_axis(definition, "vocab_size")
    edges: dict[str, list[float]] = {}
    if "top_k" in definition["inputs"]:
        edges["top_k"] = [1, vocab, 4, 12]
    if "top_p" in definition["inputs"]:
        edges["top_p"] = [0.9, 1.0, 0.3, 0.01]
    batch = DISTINCT_ROWS * REPEATS
    distinct = {"distinct_rows": DISTINCT_ROWS}
    return [
        Case(label="edge filters: greedy k=1, no filtering, only the top token", batch_size=batch, extra=distinct, values=edges),
        Case(label="random filter values", batch_size=batch, extra=distinct),
    ]


FAMILIES = [
    Family(
        name="sampling",
        matches=lambda d: d["op_type"] == "sampling" and "probs" in d["inputs"],
        make_inputs=_sampling_inputs,
        cases=_sampling_cases,
        sampling=SamplingCriteria(),
    )
]
