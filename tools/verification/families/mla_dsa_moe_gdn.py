"""MLA, DSA, MoE and GDN: inputs from `family_inputs.py`, the shapes to run them at here.

MLA runs at the same sequence-length cases as GQA attention (single page, page
boundaries, cached prefixes, an empty ragged sequence, a full decode batch). The others
keep the small shapes their CPU reference checks have always used; they get verification
cases of their own with their FlashInfer bindings.
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
    return [
        Case(label="one token", batch_size=1, q_lens=[1]),
        Case(label="two sequences", batch_size=2, q_lens=[5, 3]),
        Case(label="two longer sequences", batch_size=2, q_lens=[4, 6]),
    ]


def _family(name: str, key: str, cases) -> Family:
    return Family(name=name, matches=_claims(key), make_inputs=family_inputs.GENERATORS[key], cases=cases)


FAMILIES = [
    _family("mla_paged_decode", "mla_paged_decode", decode_cases),
    _family("mla_paged_prefill", "mla_paged_prefill", paged_prefill_cases),
    _family("mla_ragged_prefill", "mla_ragged", ragged_prefill_cases),
    _family("dsa_sparse_attention", "dsa_sparse_attention", GENERIC.cases),
    _family("dsa_topk_indexer", "dsa_topk_indexer", GENERIC.cases),
    # FP8 block-scaled: the tolerance follows from the dtypes (flashinfer-bench's low-bit 95% matched ratio).
    _family("moe", "moe", GENERIC.cases),
    _family("gdn_decode", "gdn_decode", _gdn_decode_cases),
    _family("gdn_mtp", "gdn_mtp", GENERIC.cases),
    _family("gdn_prefill", "gdn_prefill", _gdn_prefill_cases),
]
