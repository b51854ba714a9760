"""Kernel families backed by FlashInfer's own trace templates.

Each family knows which FlashInfer API serves it and what tensors SGLang passes to that
API. `trace_family` builds those tensors on the `meta` device (no memory, no GPU) from
the spec's constant axes and calls the API's `fi_trace`, which returns the template's
definition dict: axes, inputs, outputs, the plain-PyTorch reference and tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from tools.errors import DefinitionError
from tools.kernel_spec import KernelSpec

# Sizes for the runtime-variable axes: any value works, since fi_trace reads only the
# constant axes from tensor shapes. Distinct primes keep the axes from aliasing.
_TOKENS = 7
_PAGES = 11
_KV_TOKENS = 13

BF16 = torch.bfloat16


def _meta(*shape: int, dtype: torch.dtype = BF16) -> torch.Tensor:
    return torch.empty(*shape, dtype=dtype, device="meta")


@dataclass(frozen=True)
class TemplateFamily:
    """How to trace one family: the FlashInfer entry point and the tensors it takes."""

    name: str
    required_axes: tuple[str, ...]
    trace: Callable[[KernelSpec], dict[str, Any]]
    description: str


def _rmsnorm(spec: KernelSpec) -> dict[str, Any]:
    import flashinfer

    h = spec.axes["hidden_size"]
    return flashinfer.norm.rmsnorm.fi_trace(input=_meta(_TOKENS, h), weight=_meta(h))


def _fused_add_rmsnorm(spec: KernelSpec) -> dict[str, Any]:
    import flashinfer

    h = spec.axes["hidden_size"]
    return flashinfer.norm.fused_add_rmsnorm.fi_trace(input=_meta(_TOKENS, h), residual=_meta(_TOKENS, h), weight=_meta(h))


def _gemm(spec: KernelSpec) -> dict[str, Any]:
    import flashinfer

    n, k = spec.axes["N"], spec.axes["K"]
    # mm_bf16 takes the weight as a column-major [K, N] view of nn.Linear's [N, K] weight.
    return flashinfer.gemm.mm_bf16.fi_trace(a=_meta(_TOKENS, k), b=_meta(k, n))


def _paged_kv(spec: KernelSpec) -> tuple[torch.Tensor, torch.Tensor]:
    ps, kv, d = spec.axes["page_size"], spec.axes["num_kv_heads"], spec.axes["head_dim"]
    return _meta(_PAGES, ps, kv, d), _meta(_PAGES, ps, kv, d)


def _gqa_paged_decode(spec: KernelSpec) -> dict[str, Any]:
    import flashinfer

    q = _meta(_TOKENS, spec.axes["num_qo_heads"], spec.axes["head_dim"])
    return flashinfer.decode.BatchDecodeWithPagedKVCacheWrapper.run.fi_trace(q=q, paged_kv_cache=_paged_kv(spec))


def _gqa_paged_prefill(spec: KernelSpec) -> dict[str, Any]:
    import flashinfer

    q = _meta(_TOKENS, spec.axes["num_qo_heads"], spec.axes["head_dim"])
    return flashinfer.prefill.BatchPrefillWithPagedKVCacheWrapper.run.fi_trace(q=q, paged_kv_cache=_paged_kv(spec))


def _gqa_ragged_prefill(spec: KernelSpec) -> dict[str, Any]:
    import flashinfer

    d, kv = spec.axes["head_dim"], spec.axes["num_kv_heads"]
    q = _meta(_TOKENS, spec.axes["num_qo_heads"], d)
    return flashinfer.prefill.BatchPrefillWithRaggedKVCacheWrapper.run.fi_trace(q=q, k=_meta(_KV_TOKENS, kv, d), v=_meta(_KV_TOKENS, kv, d))


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


FAMILIES: dict[str, TemplateFamily] = {
    f.name: f
    for f in (
        TemplateFamily("rmsnorm", ("hidden_size",), _rmsnorm, "RMSNorm"),
        TemplateFamily("fused_add_rmsnorm", ("hidden_size",), _fused_add_rmsnorm, "residual add + RMSNorm"),
        TemplateFamily("gemm", ("N", "K"), _gemm, "bf16 GEMM"),
        TemplateFamily(
            "gqa_paged_decode", ("num_qo_heads", "num_kv_heads", "head_dim", "page_size"), _gqa_paged_decode, "GQA decode, paged KV"
        ),
        TemplateFamily(
            "gqa_paged_prefill", ("num_qo_heads", "num_kv_heads", "head_dim", "page_size"), _gqa_paged_prefill, "GQA causal prefill, paged KV"
        ),
        TemplateFamily("gqa_ragged_prefill", ("num_qo_heads", "num_kv_heads", "head_dim"), _gqa_ragged_prefill, "GQA causal prefill, ragged KV"),
        TemplateFamily("top_k_sampling_from_probs", ("vocab_size",), _sampling("top_k_sampling_from_probs", True, False), "top-k sampling"),
        TemplateFamily("top_p_sampling_from_probs", ("vocab_size",), _sampling("top_p_sampling_from_probs", False, True), "top-p sampling"),
        TemplateFamily(
            "top_k_top_p_sampling_from_probs", ("vocab_size",), _sampling("top_k_top_p_sampling_from_probs", True, True), "top-k top-p sampling"
        ),
    )
}


def trace_family(spec: KernelSpec) -> dict[str, Any]:
    """The trace template's definition dict for `spec` (not yet normalised)."""
    family = FAMILIES.get(spec.family)
    if family is None:
        raise DefinitionError(f"No FlashInfer trace template is registered for family {spec.family!r}.")
    missing = [axis for axis in family.required_axes if axis not in spec.axes]
    if missing:
        raise DefinitionError(f"{spec.family} needs constant axes {missing}; the planner gave {sorted(spec.axes)}.")
    return family.trace(spec)
