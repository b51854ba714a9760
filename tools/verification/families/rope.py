"""RoPE with a precomputed cos/sin cache: q and k of any head counts, positions into the cache.

The cache is the one SGLang's RotaryEmbedding builds (cos and sin of position times the
inverse frequencies theta^(-2i / rotary_dim)), so values stay in [-1, 1] as the kernel
sees them. Positions are drawn across the whole cache, the last row included. Cases vary
the token count (one decode token, an odd count, the largest prefill chunk) and the head
layout (GQA, MQA as MLA's single rope key head, and MHA).
"""

from __future__ import annotations

from typing import Any

import torch

from tools.verification.case import Case, Purpose
from tools.verification.families import Family
from tools.verification.families.rows import MAX_TOKENS
from tools.verification.tensors import const_axis, fill_random

ROPE_THETA = 10000.0
MAX_SEQ_LEN = 4096
"""Rows of the generated cos/sin cache (positions the batch may use)."""


def cos_sin_cache(max_seq_len: int, rotary_dim: int, theta: float = ROPE_THETA) -> torch.Tensor:
    """float32 [max_seq_len, rotary_dim]: cos of each position's angles, then their sin."""
    inv_freq = 1.0 / theta ** (torch.arange(0, rotary_dim, 2, dtype=torch.float32) / rotary_dim)
    angles = torch.arange(max_seq_len, dtype=torch.float32)[:, None] * inv_freq[None, :]
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


def _rope_inputs(definition: dict[str, Any], case: Case, generator: torch.Generator) -> dict[str, Any]:
    tokens = case.batch_size
    max_seq_len = case.extra.get("max_seq_len", MAX_SEQ_LEN)
    positions = torch.randint(0, max_seq_len, (tokens,), generator=generator, dtype=torch.int64)
    if tokens:
        positions[-1] = max_seq_len - 1  # the cache's last row
    sizes = {
        "num_tokens": tokens,
        "num_qo_heads": case.extra.get("num_qo_heads", 8),
        "num_kv_heads": case.extra.get("num_kv_heads", 2),
        "max_seq_len": max_seq_len,
    }
    given = {"positions": positions, "cos_sin_cache": cos_sin_cache(max_seq_len, const_axis(definition, "rotary_dim"))}
    return fill_random(definition, sizes, generator, given)


def _rope_cases(definition: dict[str, Any], purpose: Purpose) -> list[Case]:
    if purpose == "check":
        return [
            Case(label="one token", batch_size=1, extra={"max_seq_len": 64}),
            Case(label="five tokens, GQA heads", batch_size=5, extra={"num_qo_heads": 4, "num_kv_heads": 2, "max_seq_len": 64}),
        ]
    return [
        Case(label="one token (a single decode step)", batch_size=1),
        Case(label="37 tokens, 8 query heads over 2 key heads (GQA)", batch_size=37),
        Case(label="64 tokens, 16 query heads over one key head (MQA, as MLA's rope key)", batch_size=64, extra={"num_qo_heads": 16, "num_kv_heads": 1}),
        Case(label="33 tokens, 4 query and 4 key heads (MHA)", batch_size=33, extra={"num_qo_heads": 4, "num_kv_heads": 4}),
        Case(label=f"{MAX_TOKENS} tokens (the largest prefill chunk)", batch_size=MAX_TOKENS),
    ]


FAMILIES = [Family(name="rope", matches=lambda d: d["op_type"] == "rope", make_inputs=_rope_inputs, cases=_rope_cases)]
