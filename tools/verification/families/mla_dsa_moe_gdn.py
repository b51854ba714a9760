"""MLA, DSA, MoE and GDN: inputs from `family_inputs.py`, the shapes to run them at here.

MLA runs at the same sequence-length cases as GQA attention (single page, page
boundaries, cached prefixes, an empty ragged sequence, a full decode batch). The others
have small check shapes and, to verify, the edges their SM90 kernels have: GDN prefill
across the kernel's 64-token chunks, DSA over more cached tokens than the top-k, MoE at
few tokens (the expert count and sizes are the definition's).
"""

from __future__ import annotations

from typing import Any

from tools.verification import family_inputs
from tools.verification.case import Case, Purpose
from tools.verification.families import GENERIC, Family
from tools.verification.families.attention import decode_cases, paged_prefill_cases, ragged_prefill_cases


def _claims(key: str):
    return lambda definition: family_inputs.family_of(definition) == key


def _gdn_decode_cases(definition: dict[str, Any], purpose: Purpose) -> list[Case]:
    return [Case(label="one sequence", batch_size=1), Case(label="three sequences", batch_size=3)]


def _gdn_prefill_cases(definition: dict[str, Any], purpose: Purpose) -> list[Case]:
    cases = [
        Case(label="one token", batch_size=1, q_lens=[1]),
        Case(label="two sequences", batch_size=2, q_lens=[5, 3]),
        Case(label="two longer sequences", batch_size=2, q_lens=[4, 6]),
    ]
    if purpose == "verify":  # FlashInfer's SM90 kernel works in 64-token chunks
        cases.append(Case(label="sequences across 64-token chunks (5, 70, 130)", batch_size=3, q_lens=[5, 70, 130]))
    return cases


def _moe_cases(definition: dict[str, Any], purpose: Purpose) -> list[Case]:
    """Few tokens: the expert count and sizes are the definition's (Kimi K2's weights alone are
    17 GB). Sixteen tokens pick 128 experts, enough to reach an EP shard's local experts."""
    return [Case(label="one token", batch_size=1), Case(label="16 tokens", batch_size=16)]


def _dsa_sparse_cases(definition: dict[str, Any], purpose: Purpose) -> list[Case]:
    cases = [Case(label="one token over 8 cached tokens", batch_size=1), Case(label="5 tokens over 8 cached tokens (padded slot lists)", batch_size=5)]
    if purpose == "verify":
        cases.append(Case(label="4 tokens over 3000 cached tokens (full top-k lists)", batch_size=4, kv_lens=[3000]))
    return cases


def _dsa_indexer_cases(definition: dict[str, Any], purpose: Purpose) -> list[Case]:
    cases = [Case(label="one sequence of 5 tokens", batch_size=1), Case(label="5 sequences of 5 tokens", batch_size=5)]
    if purpose == "verify":
        cases.append(Case(label="sequences longer than top-k (4000, 2048, 1500, 2100 tokens)", batch_size=4, kv_lens=[4000, 2048, 1500, 2100]))
    return cases


def _family(name: str, key: str, cases, **options) -> Family:
    return Family(name=name, matches=_claims(key), make_inputs=family_inputs.GENERATORS[key], cases=cases, **options)


FAMILIES = [
    _family("mla_paged_decode", "mla_paged_decode", decode_cases),
    _family("mla_paged_prefill", "mla_paged_prefill", paged_prefill_cases),
    _family("mla_ragged_prefill", "mla_ragged", ragged_prefill_cases),
    _family("dsa_sparse_attention", "dsa_sparse_attention", _dsa_sparse_cases),
    # The selected slots are a set; the definitions list them best first, but near-equal
    # logits may swap places between two correct implementations.
    _family("dsa_topk_indexer", "dsa_topk_indexer", _dsa_indexer_cases, unordered_rows=("topk_indices",)),
    # FP8 block-scaled: the tolerance follows from the dtypes (flashinfer-bench's low-bit 95% matched ratio).
    _family("moe", "moe", _moe_cases),
    _family("gdn_decode", "gdn_decode", _gdn_decode_cases),
    _family("gdn_mtp", "gdn_mtp", GENERIC.cases),
    _family("gdn_prefill", "gdn_prefill", _gdn_prefill_cases),
]
