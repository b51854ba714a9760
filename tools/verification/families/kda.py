"""Kimi Delta Attention: inputs as SGLang feeds `recurrent_kda`, and the shapes to run at.

FlashInfer's KDA templates carry no `init`, so the inputs follow Kimi Linear's layer:
gate parameters drawn as the model initialises them (`A_log = log(U(1, 16))`, `dt_bias`
the softplus-inverse of a step in [0.001, 0.1]), so that every per-channel decay
exp(-exp(A_log) * softplus(g + dt_bias)) lies in (0, 1) and most stay near 1; beta a
logit for prefill and a sigmoid for decode, as SGLang passes them; a bf16 state pool
with a few slots more than sequences, each sequence on its own slot.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from tools.verification.case import Case, Purpose
from tools.verification.families import Family

BF16 = torch.bfloat16


def _const(definition: dict[str, Any], axis: str) -> int:
    return definition["axes"][axis]["value"]


def _randn(shape, gen: torch.Generator, scale: float = 1.0, dtype: torch.dtype = BF16) -> torch.Tensor:
    return (torch.randn(*shape, generator=gen) * scale).to(dtype)


def _kda_inputs(definition: dict[str, Any], case: Case, gen: torch.Generator, *, prefill: bool) -> dict[str, Any]:
    h, hv, d = (_const(definition, a) for a in ("num_q_heads", "num_v_heads", "head_dim"))
    lengths = (case.q_lens or [3] * case.batch_size) if prefill else [1] * case.batch_size
    rows, tokens = (1, sum(lengths)) if prefill else (case.batch_size, 1)
    pool = len(lengths) + 2
    step = torch.rand(h, d, generator=gen) * 0.099 + 0.001
    beta = _randn((rows, tokens, hv), gen, dtype=torch.float32)
    values: dict[str, Any] = {
        "q": _randn((rows, tokens, h, d), gen),
        "k": _randn((rows, tokens, h, d), gen),
        "v": _randn((rows, tokens, hv, d), gen, scale=0.5),
        "g": _randn((rows, tokens, hv, d), gen),
        "beta": (beta if prefill else torch.sigmoid(beta)).to(BF16),
        "A_log": torch.log(torch.rand(h, generator=gen) * 15 + 1),
        "dt_bias": torch.log(torch.expm1(step)),
        "scale": 1.0 / math.sqrt(d),
        "initial_state": _randn((pool, hv, d, d), gen, scale=0.1),
        "ssm_state_indices": torch.randperm(pool, generator=gen)[: len(lengths)].to(torch.int32),
    }
    if prefill:
        values["cu_seqlens"] = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)
    return values


def _prefill_cases(definition: dict[str, Any], purpose: Purpose) -> list[Case]:
    return [
        Case(label="one token", batch_size=1, q_lens=[1]),
        Case(label="two sequences", batch_size=2, q_lens=[5, 3]),
        Case(label="three sequences", batch_size=3, q_lens=[4, 1, 6]),
    ]


def _decode_cases(definition: dict[str, Any], purpose: Purpose) -> list[Case]:
    return [Case(label="one sequence", batch_size=1), Case(label="three sequences", batch_size=3)]


def _stage(name: str):
    return lambda definition: definition["op_type"] == "kda" and definition["name"].startswith(f"kda_{name}_")


FAMILIES = [
    Family(name="kda_prefill", matches=_stage("prefill"), make_inputs=lambda d, c, g: _kda_inputs(d, c, g, prefill=True), cases=_prefill_cases),
    Family(name="kda_decode", matches=_stage("decode"), make_inputs=lambda d, c, g: _kda_inputs(d, c, g, prefill=False), cases=_decode_cases),
]
