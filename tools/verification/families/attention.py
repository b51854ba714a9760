"""Batched GQA attention over paged and ragged KV layouts, decode and causal prefill.

Inputs follow the definitions' conventions: int32 `indptr` offsets, page ids scattered
over a cache with spare pages, and the softmax scale a kernel would be called with.
Definitions with a `kv_last_page_len` (page size > 1) get sequences that end mid-page
too; the others have every page full. Tensor shapes come from the definition's own
axes. The cases (which sequence lengths to run at) serve MLA too (`mla_dsa_moe_gdn.py`).
"""

from __future__ import annotations

import math
import random
from typing import Any

import torch

from tools.verification.case import Case, Purpose
from tools.verification.families import Family
from tools.verification.layouts import indptr, paged_layout, round_up
from tools.verification.tensors import const_axis, fill_random

def _is(op_type: str, stage: str | None = None):
    def matches(definition: dict[str, Any]) -> bool:
        if definition["op_type"] != op_type:
            return False
        return stage is None or (stage == "decode") == ("decode" in definition["name"])

    return matches


def default_sm_scale(definition: dict[str, Any]) -> float:
    return 1.0 / math.sqrt(const_axis(definition, "head_dim"))


def _per_sequence(case: Case, lengths: list[int], what: str) -> list[int]:
    if len(lengths) != case.batch_size:
        raise ValueError(f"case {case.label!r}: {len(lengths)} {what} for a batch of {case.batch_size} sequences")
    return lengths


def has_last_page_len(definition: dict[str, Any]) -> bool:
    """Whether sequences may end mid-page (the definition takes each last page's length)."""
    return "kv_last_page_len" in definition["inputs"]


def _paged_inputs(definition: dict[str, Any], case: Case, generator: torch.Generator, *, prefill: bool) -> dict[str, Any]:
    page = const_axis(definition, "page_size") or 1
    kv_lens = _per_sequence(case, case.kv_lens or [page] * case.batch_size, "KV lengths")
    q_lens = _per_sequence(case, case.q_lens or [1] * case.batch_size, "query lengths") if prefill else [1] * case.batch_size
    layout = paged_layout(kv_lens, page, generator, partial_last_page=has_last_page_len(definition))
    sizes = {
        "batch_size": case.batch_size,
        "total_q": sum(q_lens),
        "len_indptr": case.batch_size + 1,
        "num_pages": layout.num_pages,
        "num_kv_indices": int(layout.kv_indices.numel()),
    }
    values: dict[str, Any] = {
        "kv_indptr": layout.kv_indptr,
        "kv_indices": layout.kv_indices,
        "kv_last_page_len": layout.kv_last_page_len,
        "qo_indptr": indptr(q_lens),
    }
    if "sm_scale" in definition["inputs"]:
        values["sm_scale"] = default_sm_scale(definition)
    return fill_random(definition, sizes, generator, {k: v for k, v in values.items() if k in definition["inputs"]})


def _ragged_inputs(definition: dict[str, Any], case: Case, generator: torch.Generator) -> dict[str, Any]:
    q_lens = _per_sequence(case, case.q_lens or [1] * case.batch_size, "query lengths")
    kv_lens = _per_sequence(case, case.kv_lens or q_lens, "KV lengths")
    sizes = {"total_q": sum(q_lens), "total_kv": sum(kv_lens), "len_indptr": case.batch_size + 1, "batch_size": case.batch_size}
    values: dict[str, Any] = {"qo_indptr": indptr(q_lens), "kv_indptr": indptr(kv_lens)}
    if "sm_scale" in definition["inputs"]:
        values["sm_scale"] = default_sm_scale(definition)
    return fill_random(definition, sizes, generator, {k: v for k, v in values.items() if k in definition["inputs"]})


def _page(definition: dict[str, Any]) -> int:
    return const_axis(definition, "page_size") or 1


def _sequences(label: str, q_lens: list[int], prefixes: list[int], page: int, *, partial: bool = False) -> Case:
    """Sequences of `q_lens` new tokens after `prefixes` cached ones, KV rounded up to
    whole pages unless the last page may be `partial`."""
    kv_lens = [q + p if partial else round_up(q + p, page) for q, p in zip(q_lens, prefixes)]
    return Case(label=label, batch_size=len(q_lens), q_lens=q_lens, kv_lens=kv_lens)


def decode_cases(definition: dict[str, Any], purpose: Purpose) -> list[Case]:
    page, partial = _page(definition), has_last_page_len(definition)
    cases = [
        Case(label="one sequence, one page", batch_size=1, kv_lens=[page]),
        Case(label="sequences ending on page boundaries (1, 2, 3 pages)", batch_size=3, kv_lens=[page, 2 * page, 3 * page]),
    ]
    if partial:
        lengths = [1, page + 1, 2 * page + page // 2, 3 * page - 1]
        cases.append(Case(label="sequences ending mid-page (last pages of 1, 1, half and all but one tokens)", batch_size=4, kv_lens=lengths))
    if purpose == "verify":
        lengths = [n if partial else round_up(n, page) for n in random.Random(0).choices(range(1, 1025), k=256)]
        cases.append(Case(label="256 sequences of 1 to 1024 tokens (a full decode batch)", batch_size=256, kv_lens=lengths))
    return cases


def paged_prefill_cases(definition: dict[str, Any], purpose: Purpose) -> list[Case]:
    page, partial = _page(definition), has_last_page_len(definition)
    whole = [round_up(3, page), round_up(6, page)]
    cases = [
        _sequences("one query token", [1], [0], page),
        _sequences("queries after a cached prefix spanning pages", [5, 3], [page + 2, 2 * page + 1], page),
        Case(label="no cached prefix (q_len == kv_len)", batch_size=2, q_lens=whole, kv_lens=whole),
    ]
    if partial:
        prefixes = [page + 2, max(0, 2 * page - 4), 0]  # last pages of 7, all but one and one tokens
        cases.append(_sequences("queries after a prefix, ending mid-page", [5, 3, 1], prefixes, page, partial=True))
    if purpose == "verify":
        cases.append(
            _sequences("4 sequences, 512 query tokens after prefixes of up to 1024", [128, 64, 256, 64], [0, 512, 100, 1024], page, partial=partial)
        )
    return cases


def ragged_prefill_cases(definition: dict[str, Any], purpose: Purpose) -> list[Case]:
    cases = [
        Case(label="one token", batch_size=1, q_lens=[1], kv_lens=[1]),
        Case(label="queries after a cached prefix", batch_size=2, q_lens=[4, 2], kv_lens=[4, 6]),
        Case(label="an empty sequence in the batch", batch_size=3, q_lens=[3, 0, 2], kv_lens=[5, 0, 2]),
    ]
    if purpose == "verify":
        cases.append(Case(label="4 sequences, 512 query tokens", batch_size=4, q_lens=[128, 256, 1, 127], kv_lens=[128, 320, 301, 128]))
    return cases


FAMILIES = [
    Family("gqa_paged_decode", _is("gqa_paged", "decode"), lambda d, c, g: _paged_inputs(d, c, g, prefill=False), decode_cases),
    Family("gqa_paged_prefill", _is("gqa_paged", "prefill"), lambda d, c, g: _paged_inputs(d, c, g, prefill=True), paged_prefill_cases),
    Family("gqa_ragged_prefill", _is("gqa_ragged"), _ragged_inputs, ragged_prefill_cases),
]
