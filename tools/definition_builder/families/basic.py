"""Norms, dense GEMM, GQA attention and sampling: the families every model has.

Paged attention at page size > 1 takes the last page's length (the dataset's
convention, `tools/family_conventions.py`); its references are in `paged_references.py`.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from tools.definition_builder import paged_references, references
from tools.definition_builder.families.common import _KV_TOKENS, _PAGES, _TOKENS, Family, _meta, activation_dtype, paged_definition, reference_source, with_activation_dtype
from tools.kernel_spec import KernelSpec


def _rmsnorm(spec: KernelSpec) -> dict[str, Any]:
    import flashinfer

    h, dtype = spec.axes["hidden_size"], activation_dtype(spec)
    return flashinfer.norm.rmsnorm.fi_trace(input=_meta(_TOKENS, h, dtype=dtype), weight=_meta(h, dtype=dtype))


def _fused_add_rmsnorm(spec: KernelSpec) -> dict[str, Any]:
    import flashinfer

    h, dtype = spec.axes["hidden_size"], activation_dtype(spec)
    return flashinfer.norm.fused_add_rmsnorm.fi_trace(input=_meta(_TOKENS, h, dtype=dtype), residual=_meta(_TOKENS, h, dtype=dtype), weight=_meta(h, dtype=dtype))


def _gemma_rmsnorm(spec: KernelSpec) -> dict[str, Any]:
    import flashinfer

    h, dtype = spec.axes["hidden_size"], activation_dtype(spec)
    return flashinfer.norm.gemma_rmsnorm.fi_trace(input=_meta(_TOKENS, h, dtype=dtype), weight=_meta(h, dtype=dtype))


def _gemma_fused_add_rmsnorm(spec: KernelSpec) -> dict[str, Any]:
    import flashinfer

    h, dtype = spec.axes["hidden_size"], activation_dtype(spec)
    return flashinfer.norm.gemma_fused_add_rmsnorm.fi_trace(input=_meta(_TOKENS, h, dtype=dtype), residual=_meta(_TOKENS, h, dtype=dtype), weight=_meta(h, dtype=dtype))


def _layernorm(spec: KernelSpec) -> dict[str, Any]:
    import flashinfer

    h = spec.axes["hidden_size"]
    # FlashInfer's LayerNorm takes float32 gamma/beta with bf16 activations.
    return flashinfer.norm.layernorm.fi_trace(input=_meta(_TOKENS, h, dtype=activation_dtype(spec)), gemma=_meta(h, dtype=torch.float32), beta=_meta(h, dtype=torch.float32))


def _gemm(spec: KernelSpec) -> dict[str, Any]:
    # The dataset's convention (all 32 official GEMMs): B as nn.Linear stores its weight,
    # [N, K], C = A @ B.T, in float16. FlashInfer's mm_bf16 template takes a [K, N] bf16
    # view instead, so the definition is written here.
    n, k = spec.axes["N"], spec.axes["K"]
    return {
        "name": f"gemm_n{n}_k{k}",
        "op_type": "gemm",
        "description": f"General matrix multiply C = A @ B.T with N={n}, K={k}: a linear layer's product, B its [N, K] weight.",
        "tags": [],
        "axes": {
            "M": {"type": "var", "description": "Rows of A (tokens)."},
            "N": {"type": "const", "value": n, "description": "Output features."},
            "K": {"type": "const", "value": k, "description": "Input features (reduction dimension)."},
        },
        "inputs": {
            "A": {"shape": ["M", "K"], "dtype": "float16", "description": "Activations."},
            "B": {"shape": ["N", "K"], "dtype": "float16", "description": "Weight, as nn.Linear stores it."},
        },
        "outputs": {"C": {"shape": ["M", "N"], "dtype": "float16", "description": "A @ B.T."}},
        "reference": reference_source(references.gemm),
    }


def _gemm_fp8_block_scale(spec: KernelSpec) -> dict[str, Any]:
    import flashinfer

    n, k = spec.axes["N"], spec.axes["K"]
    fp8, block = torch.float8_e4m3fn, 128
    # The TRT-LLM layout SGLang's fp8 block-quantized linears use: per-token-group
    # activation scales [M, K/128] and per-block weight scales [ceil(N/128), K/128].
    return flashinfer.gemm.gemm_fp8_nt_groupwise.fi_trace(
        a=_meta(_TOKENS, k, dtype=fp8),
        b=_meta(n, k, dtype=fp8),
        a_scale=_meta(_TOKENS, -(-k // block), dtype=torch.float32),
        b_scale=_meta(-(-n // block), -(-k // block), dtype=torch.float32),
        out_dtype=torch.bfloat16,
    )


def _paged_kv(spec: KernelSpec) -> tuple[torch.Tensor, torch.Tensor]:
    ps, kv, d, dtype = spec.axes["page_size"], spec.axes["num_kv_heads"], spec.axes["head_dim"], activation_dtype(spec)
    return _meta(_PAGES, ps, kv, d, dtype=dtype), _meta(_PAGES, ps, kv, d, dtype=dtype)


def _gqa_paged_decode(spec: KernelSpec) -> dict[str, Any]:
    import flashinfer

    q = _meta(_TOKENS, spec.axes["num_qo_heads"], spec.axes["head_dim"], dtype=activation_dtype(spec))
    raw = flashinfer.decode.BatchDecodeWithPagedKVCacheWrapper.run.fi_trace(q=q, paged_kv_cache=_paged_kv(spec))
    return with_activation_dtype(paged_definition(raw, spec.axes["page_size"], paged_references.gqa_paged_decode), spec)


def _gqa_paged_prefill(spec: KernelSpec) -> dict[str, Any]:
    import flashinfer

    q = _meta(_TOKENS, spec.axes["num_qo_heads"], spec.axes["head_dim"], dtype=activation_dtype(spec))
    raw = flashinfer.prefill.BatchPrefillWithPagedKVCacheWrapper.run.fi_trace(q=q, paged_kv_cache=_paged_kv(spec))
    return with_activation_dtype(paged_definition(raw, spec.axes["page_size"], paged_references.gqa_paged_prefill), spec)


def _gqa_ragged_prefill(spec: KernelSpec) -> dict[str, Any]:
    import flashinfer

    d, kv, dtype = spec.axes["head_dim"], spec.axes["num_kv_heads"], activation_dtype(spec)
    q = _meta(_TOKENS, spec.axes["num_qo_heads"], d, dtype=dtype)
    return with_activation_dtype(
        flashinfer.prefill.BatchPrefillWithRaggedKVCacheWrapper.run.fi_trace(q=q, k=_meta(_KV_TOKENS, kv, d, dtype=dtype), v=_meta(_KV_TOKENS, kv, d, dtype=dtype)), spec
    )


def _sampling(api_name: str, with_k: bool, with_p: bool) -> Callable[[KernelSpec], dict[str, Any]]:
    def trace(spec: KernelSpec) -> dict[str, Any]:
        import flashinfer

        api = getattr(flashinfer.sampling, api_name)
        kwargs: dict[str, Any] = {"probs": _meta(_TOKENS, spec.axes["vocab_size"], dtype=torch.float32)}
        if with_k:
            kwargs["top_k"] = _meta(_TOKENS, dtype=torch.int32)
        if with_p:
            kwargs["top_p"] = _meta(_TOKENS, dtype=torch.float32)
        return api.fi_trace(**kwargs)

    return trace


FAMILIES = (
    Family("rmsnorm", ("hidden_size",), _rmsnorm, "RMSNorm"),
    Family("fused_add_rmsnorm", ("hidden_size",), _fused_add_rmsnorm, "residual add + RMSNorm"),
    Family("gemma_rmsnorm", ("hidden_size",), _gemma_rmsnorm, "Gemma-style RMSNorm (x * (1 + w))", param_aliases=(("input", "hidden_states"),)),
    Family(
        "gemma_fused_add_rmsnorm", ("hidden_size",), _gemma_fused_add_rmsnorm, "residual add + Gemma-style RMSNorm", param_aliases=(("input", "hidden_states"),)
    ),
    Family("layernorm", ("hidden_size",), _layernorm, "LayerNorm with weight and bias", param_aliases=(("input", "hidden_states"),)),
    Family("gemm", ("N", "K"), _gemm, "GEMM C = A @ B.T (float16, B [N, K])", reference_name="gemm", handwritten=True),
    Family("gemm_fp8_block_scale", ("N", "K"), _gemm_fp8_block_scale, "FP8 GEMM with 128-block scales (quantized checkpoints)"),
    Family(
        "gqa_paged_decode", ("num_qo_heads", "num_kv_heads", "head_dim", "page_size"), _gqa_paged_decode, "GQA decode, paged KV"
    ),
    Family(
        "gqa_paged_prefill", ("num_qo_heads", "num_kv_heads", "head_dim", "page_size"), _gqa_paged_prefill, "GQA causal prefill, paged KV"
    ),
    Family("gqa_ragged_prefill", ("num_qo_heads", "num_kv_heads", "head_dim"), _gqa_ragged_prefill, "GQA causal prefill, ragged KV"),
    Family("top_k_sampling_from_probs", ("vocab_size",), _sampling("top_k_sampling_from_probs", True, False), "top-k sampling"),
    Family("top_p_sampling_from_probs", ("vocab_size",), _sampling("top_p_sampling_from_probs", False, True), "top-p sampling"),
    Family(
        "top_k_top_p_sampling_from_probs", ("vocab_size",), _sampling("top_k_top_p_sampling_from_probs", True, True), "top-k top-p sampling"
    ),
)
