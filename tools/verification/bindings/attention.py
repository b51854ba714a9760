"""Attention over paged and ragged KV caches, decode and causal prefill: GQA and MLA.

Paged definitions at page size 1 have every page full; at page size > 1 they take each
sequence's last page length (`kv_last_page_len`), served by the `_lpl` kernels.
"""

from tools.verification.bindings import Binding

_DECODE = "flashinfer.decode.BatchDecodeWithPagedKVCacheWrapper.run"
_PREFILL = "flashinfer.prefill.BatchPrefillWithPagedKVCacheWrapper.run"
_RAGGED = "flashinfer.prefill.BatchPrefillWithRaggedKVCacheWrapper.run"
_MLA = "flashinfer.mla.BatchMLAPagedAttentionWrapper.run"
_TEMPLATES = "flashinfer.trace.templates.attention"


def _causal(definition) -> bool:
    return "causal" in definition["name"]


def _decode(definition) -> bool:
    return "decode" in definition["name"]


BINDINGS = [
    Binding(
        name="gqa_paged_decode",
        build_seconds=10,
        fi_api=_DECODE,
        kernel="gqa_paged_decode",
        op_type="gqa_paged",
        template=f"{_TEMPLATES}:gqa_paged_decode_trace",
        description="BatchDecodeWithPagedKVCacheWrapper: plan with full pages, run with return_lse",
    ),
    Binding(
        name="gqa_paged_decode_lpl",
        build_seconds=10,
        fi_api=_DECODE,
        kernel="gqa_paged_decode_lpl",
        op_type="gqa_paged",
        template=f"{_TEMPLATES}:gqa_paged_decode_trace",
        description="BatchDecodeWithPagedKVCacheWrapper: plan with the last page lengths, run with return_lse",
    ),
    Binding(
        name="gqa_paged_prefill_causal",
        build_seconds=67,
        fi_api=_PREFILL,
        kernel="gqa_paged_prefill",
        op_type="gqa_paged",
        applies=_causal,
        template=f"{_TEMPLATES}:gqa_paged_prefill_trace",
        description="BatchPrefillWithPagedKVCacheWrapper: causal plan with full pages, run with a 2-based LSE",
    ),
    Binding(
        name="gqa_paged_prefill_causal_lpl",
        build_seconds=67,
        fi_api=_PREFILL,
        kernel="gqa_paged_prefill_lpl",
        op_type="gqa_paged",
        applies=_causal,
        template=f"{_TEMPLATES}:gqa_paged_prefill_trace",
        description="BatchPrefillWithPagedKVCacheWrapper: causal plan with the last page lengths, run with a 2-based LSE",
    ),
    Binding(
        name="gqa_ragged_prefill_causal",
        build_seconds=67,
        fi_api=_RAGGED,
        kernel="ragged_prefill",
        op_type="gqa_ragged",
        applies=_causal,
        template=f"{_TEMPLATES}:gqa_ragged_prefill_trace",
        description="BatchPrefillWithRaggedKVCacheWrapper: causal plan, run with a 2-based LSE",
    ),
    Binding(
        name="mla_paged_decode",
        build_seconds=27,
        fi_api=_MLA,
        kernel="mla_paged_decode",
        op_type="mla_paged",
        applies=_decode,
        template=f"{_TEMPLATES}:mla_paged_decode_trace",
        description="BatchMLAPagedAttentionWrapper: split query and cache, full pages, run with a 2-based LSE",
    ),
    Binding(
        name="mla_paged_decode_lpl",
        build_seconds=27,
        fi_api=_MLA,
        kernel="mla_paged_decode_lpl",
        op_type="mla_paged",
        applies=_decode,
        template=f"{_TEMPLATES}:mla_paged_decode_trace",
        description="BatchMLAPagedAttentionWrapper: split query and cache, KV lengths from the last page lengths, 2-based LSE",
    ),
    Binding(
        name="mla_paged_prefill_causal",
        build_seconds=27,
        fi_api=_MLA,
        kernel="mla_paged_prefill",
        op_type="mla_paged",
        applies=_causal,
        template=f"{_TEMPLATES}:mla_paged_prefill_trace",
        description="BatchMLAPagedAttentionWrapper: causal plan, split query and cache, full pages, 2-based LSE",
    ),
    Binding(
        name="mla_paged_prefill_causal_lpl",
        build_seconds=27,
        fi_api=_MLA,
        kernel="mla_paged_prefill_lpl",
        op_type="mla_paged",
        applies=_causal,
        template=f"{_TEMPLATES}:mla_paged_prefill_trace",
        description="BatchMLAPagedAttentionWrapper: causal plan, split query and cache, KV lengths from the last page lengths, 2-based LSE",
    ),
    Binding(
        name="mla_ragged_prefill_causal",
        build_seconds=62,
        fi_api=_RAGGED,
        kernel="ragged_prefill",
        op_type="mla_ragged",
        applies=_causal,
        description="BatchPrefillWithRaggedKVCacheWrapper with head_dim_qk 192 and head_dim_vo 128: causal plan, 2-based LSE",
    ),
]
