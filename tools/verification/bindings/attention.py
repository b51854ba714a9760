"""Attention over paged and ragged KV caches, decode and causal prefill: GQA and MLA.

Definitions tag the wrapper class as the dataset spells it (`fi_api:flashinfer.decode.
BatchDecodeWithPagedKVCacheWrapper`); the paged kernels here plan whole pages, so they
serve the page-size-1 definitions, not those that take `kv_last_page_len`.
"""

from tools.verification.bindings import Binding

# The wrapper's own fi_trace tags it under its defining module.
_MLA_CORE = "flashinfer.mla._core.BatchMLAPagedAttentionWrapper.run"
_MLA = "flashinfer.mla.BatchMLAPagedAttentionWrapper"
_RAGGED = "flashinfer.prefill.BatchPrefillWithRaggedKVCacheWrapper"


def _whole_pages(definition) -> bool:
    return "kv_last_page_len" not in definition["inputs"]

BINDINGS = [
    Binding(
        name="gqa_paged_decode",
        fi_api="flashinfer.decode.BatchDecodeWithPagedKVCacheWrapper.run",
        aliases=("flashinfer.decode.BatchDecodeWithPagedKVCacheWrapper",),
        kernel="gqa_paged_decode",
        applies=_whole_pages,
        template="flashinfer.trace.templates.attention:gqa_paged_decode_trace",
        description="BatchDecodeWithPagedKVCacheWrapper: plan with full pages, run with return_lse",
    ),
    Binding(
        name="gqa_paged_prefill_causal",
        fi_api="flashinfer.prefill.BatchPrefillWithPagedKVCacheWrapper.run",
        aliases=("flashinfer.prefill.BatchPrefillWithPagedKVCacheWrapper",),
        kernel="gqa_paged_prefill",
        applies=lambda definition: "causal" in definition["name"] and _whole_pages(definition),
        template="flashinfer.trace.templates.attention:gqa_paged_prefill_trace",
        description="BatchPrefillWithPagedKVCacheWrapper: causal plan with full pages, run with a 2-based LSE",
    ),
    Binding(
        name="gqa_ragged_prefill_causal",
        fi_api="flashinfer.prefill.BatchPrefillWithRaggedKVCacheWrapper.run",
        aliases=(_RAGGED,),
        kernel="ragged_prefill",
        applies=lambda definition: "causal" in definition["name"] and definition["op_type"] == "gqa_ragged",
        template="flashinfer.trace.templates.attention:gqa_ragged_prefill_trace",
        description="BatchPrefillWithRaggedKVCacheWrapper: causal plan, run with a 2-based LSE",
    ),
    Binding(
        name="mla_paged_decode",
        fi_api="flashinfer.mla.BatchMLAPagedAttentionWrapper.run",
        aliases=(_MLA_CORE, _MLA),
        kernel="mla_paged_decode",
        applies=lambda definition: "decode" in definition["name"] and _whole_pages(definition),
        template="flashinfer.trace.templates.attention:mla_paged_decode_trace",
        description="BatchMLAPagedAttentionWrapper: split query and cache, full pages, run with a 2-based LSE",
    ),
    Binding(
        name="mla_paged_prefill_causal",
        fi_api="flashinfer.mla.BatchMLAPagedAttentionWrapper.run",
        aliases=(_MLA_CORE, _MLA),
        kernel="mla_paged_prefill",
        applies=lambda definition: "causal" in definition["name"] and _whole_pages(definition),
        template="flashinfer.trace.templates.attention:mla_paged_prefill_trace",
        description="BatchMLAPagedAttentionWrapper: causal plan, split query and cache, full pages, 2-based LSE",
    ),
    Binding(
        name="mla_ragged_prefill_causal",
        fi_api="flashinfer.prefill.BatchPrefillWithRaggedKVCacheWrapper.run",
        aliases=(_RAGGED,),
        kernel="ragged_prefill",
        applies=lambda definition: "causal" in definition["name"] and definition["op_type"] == "mla_ragged",
        description="BatchPrefillWithRaggedKVCacheWrapper with head_dim_qk 192 and head_dim_vo 128: causal plan, 2-based LSE",
    ),
]
