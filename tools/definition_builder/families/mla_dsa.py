"""MLA (DeepSeek V2/V3, Kimi K2) and DSA (DeepSeek V3.2) attention families.

Paged MLA decode/prefill and the DSA sparse attention come from FlashInfer's trace
templates. Two kernels have no template in FlashInfer 0.7.2 and are written here:
MLA's ragged prefill (q/k head dim 192, v head dim 128, before weight absorption,
served by the ragged prefill wrapper) and DSA's FP8 top-k indexer.
"""

from __future__ import annotations

from typing import Any

import torch

from tools.definition_builder import paged_references, references
from tools.definition_builder.families.common import _PAGES, _TOKENS, Family, _meta, ordered_axes, paged_definition, reference_source, trace_template
from tools.kernel_spec import KernelSpec

MLA_API = "flashinfer.mla.BatchMLAPagedAttentionWrapper.run"
INT32 = torch.int32


def _mla_tensors(spec: KernelSpec) -> dict[str, torch.Tensor]:
    h, ckv, kpe, ps = (spec.axes[a] for a in ("num_qo_heads", "head_dim_ckv", "head_dim_kpe", "page_size"))
    return {
        "q_nope": _meta(_TOKENS, h, ckv),
        "q_pe": _meta(_TOKENS, h, kpe),
        "ckv_cache": _meta(_PAGES, ps, ckv),
        "kpe_cache": _meta(_PAGES, ps, kpe),
    }


def _mla_paged_decode(spec: KernelSpec) -> dict[str, Any]:
    import flashinfer

    raw = flashinfer.mla.BatchMLAPagedAttentionWrapper.run.fi_trace(**_mla_tensors(spec))
    return paged_definition(raw, spec.axes["page_size"], paged_references.mla_paged_decode)


def _mla_paged_prefill(spec: KernelSpec) -> dict[str, Any]:
    from flashinfer.trace.templates.attention import mla_paged_prefill_trace

    index = {"qo_indptr": _meta(3, dtype=INT32), "kv_indptr": _meta(3, dtype=INT32), "kv_indices": _meta(_PAGES, dtype=INT32)}
    raw = trace_template(mla_paged_prefill_trace, MLA_API, **_mla_tensors(spec), **index)
    return paged_definition(raw, spec.axes["page_size"], paged_references.mla_paged_prefill)


# The axis order of dsa_sparse_attention_h16_ckv512_kpe64_topk2048_ps1.json (the template
# lists topk before page_size).
DSA_AXES = ("num_tokens", "num_qo_heads", "head_dim_ckv", "head_dim_kpe", "page_size", "topk", "num_pages")


def _dsa_sparse_attention(spec: KernelSpec) -> dict[str, Any]:
    from flashinfer.trace.templates.attention import dsa_paged_trace

    tensors = _mla_tensors(spec)
    tensors["sparse_indices"] = _meta(_TOKENS, spec.axes["topk"], dtype=INT32)
    # FlashInfer 0.7.2 attaches this template to no public API; the tag comes from the
    # dataset's convention (the TRT-LLM MLA decode with sparse top-k).
    return ordered_axes(trace_template(dsa_paged_trace, None, **tensors), DSA_AXES)


def _mla_ragged_prefill(spec: KernelSpec) -> dict[str, Any]:
    # Axis names follow the dataset's mla_ragged definitions (qk_dim, vo_dim, and a
    # num_kv_heads equal to num_qo_heads): no FlashInfer template names them.
    h, qk, vo = spec.axes["num_qo_heads"], spec.axes["qk_dim"], spec.axes["vo_dim"]
    return {
        "name": f"mla_ragged_prefill_causal_h{h}_qk{qk}_vo{vo}",
        "op_type": "mla_ragged",
        "description": (
            "MLA causal prefill before weight absorption, with ragged (contiguous) K/V: per-head q/k of "
            "qk_dim = qk_nope + qk_rope, v of vo_dim. Served by BatchPrefillWithRaggedKVCacheWrapper."
        ),
        "tags": [],
        "axes": {
            "num_qo_heads": {"type": "const", "value": h, "description": "Heads per GPU after tensor-parallel split."},
            "num_kv_heads": {"type": "const", "value": h, "description": "Key/value heads: as many as query heads (K and V are expanded per head)."},
            "qk_dim": {"type": "const", "value": qk, "description": "Query/key head dimension (nope + rope)."},
            "vo_dim": {"type": "const", "value": vo, "description": "Value/output head dimension."},
            "total_q": {"type": "var", "description": "Total number of query tokens."},
            "total_kv": {"type": "var", "description": "Total number of key/value tokens."},
            "len_indptr": {"type": "var", "description": "Length of the indptr arrays (batch size + 1)."},
        },
        "constraints": ["total_q == qo_indptr[-1].item()", "total_kv == kv_indptr[-1].item()"],
        "inputs": {
            "q": {"shape": ["total_q", "num_qo_heads", "qk_dim"], "dtype": "bfloat16"},
            "k": {"shape": ["total_kv", "num_kv_heads", "qk_dim"], "dtype": "bfloat16"},
            "v": {"shape": ["total_kv", "num_kv_heads", "vo_dim"], "dtype": "bfloat16"},
            "qo_indptr": {"shape": ["len_indptr"], "dtype": "int32", "description": "Query offsets per sequence."},
            "kv_indptr": {"shape": ["len_indptr"], "dtype": "int32", "description": "Key/value offsets per sequence."},
            "sm_scale": {"shape": None, "dtype": "float32", "description": "Softmax scale (SGLang: 1/sqrt(qk_dim), times the YaRN mscale^2 when rope scaling applies)."},
        },
        "outputs": {
            "output": {"shape": ["total_q", "num_qo_heads", "vo_dim"], "dtype": "bfloat16"},
            "lse": {"shape": ["total_q", "num_qo_heads"], "dtype": "float32", "description": "Base-2 log-sum-exp of the scaled logits."},
        },
        "reference": reference_source(references.mla_ragged_prefill_causal),
    }


def _dsa_topk_indexer(spec: KernelSpec) -> dict[str, Any]:
    heads, dim, topk, ps = (spec.axes[a] for a in ("num_index_heads", "index_head_dim", "topk", "page_size"))
    return {
        "name": f"dsa_topk_indexer_fp8_h{heads}_d{dim}_topk{topk}_ps{ps}",
        "op_type": "dsa_paged",
        "description": (
            "DeepSeek Sparse Attention indexer: FP8 index queries against a paged FP8 index-key cache "
            "(per page: page_size*head_dim fp8 bytes, then page_size float32 scales), scored "
            "sum_h weights[h] * relu(q_h . k), returning each sequence's top-k global KV slots (-1 padded)."
        ),
        "tags": [],
        "axes": {
            "batch_size": {"type": "var", "description": "Query tokens (one per sequence in decode)."},
            "num_index_heads": {"type": "const", "value": heads, "description": "Indexer heads."},
            "index_head_dim": {"type": "const", "value": dim, "description": "Indexer head dimension."},
            "page_size": {"type": "const", "value": ps, "description": "Tokens per cache page."},
            "topk": {"type": "const", "value": topk, "description": "KV slots selected per query."},
            "max_num_pages": {"type": "var", "description": "Width of the block table."},
            "num_pages": {"type": "var", "description": "Pages in the index-key cache."},
            "kv_cache_num_heads": {"type": "const", "value": 1, "description": "Index-key heads in the cache (MQA)."},
            "head_dim_with_scale": {"type": "const", "value": dim + 4, "description": "Bytes per cached token: fp8 values and a float32 scale."},
        },
        "constraints": ["topk <= max_num_pages * page_size"],
        "inputs": {
            "q_index_fp8": {"shape": ["batch_size", "num_index_heads", "index_head_dim"], "dtype": "float8_e4m3fn"},
            "k_index_cache_fp8": {"shape": ["num_pages", "page_size", "kv_cache_num_heads", "head_dim_with_scale"], "dtype": "int8", "description": "Packed FP8 keys and per-token float32 scales."},
            "weights": {"shape": ["batch_size", "num_index_heads"], "dtype": "float32", "description": "Per-head score weights."},
            "seq_lens": {"shape": ["batch_size"], "dtype": "int32"},
            "block_table": {"shape": ["batch_size", "max_num_pages"], "dtype": "int32"},
        },
        "outputs": {"topk_indices": {"shape": ["batch_size", "topk"], "dtype": "int32", "description": "Global KV slots (page * page_size + offset), best first; -1 pads."}},
        "reference": reference_source(references.dsa_topk_indexer, prelude=f"TOPK = {topk}\n\n"),
    }


FAMILIES = (
    Family("mla_paged_decode", ("num_qo_heads", "head_dim_ckv", "head_dim_kpe", "page_size"), _mla_paged_decode, "MLA decode, paged latent cache"),
    Family("mla_paged_prefill", ("num_qo_heads", "head_dim_ckv", "head_dim_kpe", "page_size"), _mla_paged_prefill, "MLA causal prefill, paged latent cache"),
    Family("mla_ragged_prefill", ("num_qo_heads", "qk_dim", "vo_dim"), _mla_ragged_prefill, "MLA causal prefill, ragged K/V", reference_name="mla_ragged_prefill_causal", handwritten=True),
    Family("dsa_sparse_attention", ("num_qo_heads", "head_dim_ckv", "head_dim_kpe", "topk", "page_size"), _dsa_sparse_attention, "DSA sparse MLA attention"),
    Family("dsa_topk_indexer", ("num_index_heads", "index_head_dim", "topk", "page_size"), _dsa_topk_indexer, "DSA FP8 top-k indexer", reference_name="dsa_topk_indexer", handwritten=True),
)
