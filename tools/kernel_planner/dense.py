"""Rules for the kernels every model has: norms, dense GEMMs, GQA attention, sampling."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from tools.model_parser.inventory import Component

if TYPE_CHECKING:
    from tools.kernel_planner import Planner


def _norm(plain: str, fused: str) -> Callable[[Planner, Component], None]:
    def rule(planner: Planner, component: Component) -> None:
        hidden = component.value("hidden_size")
        if hidden is None:
            hidden = component.value("dim")
        if not isinstance(hidden, int):
            planner.pending(component, "RMSNorm width could not be resolved")
            return
        planner.emit(component, plain, {"hidden_size": hidden})
        on_residual_stream = component.parent_role in ("decoder_layer", "model") and hidden == planner.residual_width
        if on_residual_stream:
            planner.emit(component, fused, {"hidden_size": hidden})

    return rule


def _layernorm(planner: Planner, component: Component) -> None:
    hidden = component.value("hidden_size")
    if isinstance(hidden, list) and len(hidden) == 1:
        hidden = hidden[0]  # torch's normalized_shape may be a one-element list
    if not isinstance(hidden, int):
        planner.pending(component, "LayerNorm width could not be resolved")
        return
    planner.emit(component, "layernorm", {"hidden_size": hidden})


def _gemm_shape(component: Component) -> tuple[int, int] | None:
    kind = component.kind
    if kind == "linear.qkv":
        heads, kv_heads = component.value("total_num_heads"), component.value("total_num_kv_heads")
        head, hidden = component.value("head_size"), component.value("hidden_size")
        v_head = component.value("v_head_size") or head
        if not all(isinstance(x, int) for x in (heads, kv_heads, head, hidden, v_head)):
            return None
        return (heads + kv_heads) * head + kv_heads * v_head, hidden
    if kind == "linear.merged_column":
        sizes = component.value("output_sizes")
        k = component.value("input_size")
        if not isinstance(sizes, list) or not all(isinstance(x, int) for x in sizes) or not isinstance(k, int):
            return None
        return sum(sizes), k
    n, k = component.value("output_size"), component.value("input_size")
    if isinstance(n, int) and isinstance(k, int):
        return n, k
    return None


def _linear(planner: Planner, component: Component) -> None:
    if "conv" in component.path.rsplit(".", 1)[-1]:
        # SGLang keeps short-convolution weights (GDN, Mamba) in a linear layer; the causal
        # conv1d kernel that uses them is part of the linear-attention layer, not a GEMM.
        planner.skip(component, "convolution weights held in a linear layer; no GEMM runs on them")
        return
    shape = _gemm_shape(component)
    if shape is None:
        planner.pending(component, "linear layer shape could not be resolved")
        return
    n, k = shape
    if component.quantized:
        if planner.options.include_quantized:
            planner.emit(component, "gemm_fp8_block_scale", {"N": n, "K": k})
        else:
            planner.skip(component, f"quantized GEMM n{n} k{k} (the checkpoint stores these weights quantized); pass --include-quantized")
        return
    planner.emit(component, "gemm", {"N": n, "K": k})


def _attention(planner: Planner, component: Component) -> None:
    heads = component.value("num_heads")
    kv_heads = component.value("num_kv_heads")
    head_dim = component.value("head_dim")
    v_head_dim = component.value("v_head_dim", -1)
    if not all(isinstance(x, int) for x in (heads, kv_heads, head_dim)):
        planner.pending(component, "attention head counts could not be resolved")
        return
    if v_head_dim not in (-1, None, head_dim):
        from tools.kernel_planner.mla import plan_mla_attention

        plan_mla_attention(planner, component)
        return
    variant = _unsupported_attention_variant(component)
    if variant:
        planner.pending(component, variant)
        return
    tp = planner.inventory.tp
    axes = {"num_qo_heads": heads, "num_kv_heads": kv_heads, "head_dim": head_dim}
    for stage in planner.stages():
        for page_size in planner.options.page_sizes:
            family = "gqa_paged_decode" if stage == "decode" else "gqa_paged_prefill"
            planner.emit(component, family, {**axes, "page_size": page_size}, stage=stage, tp=tp)
        if stage == "prefill":
            planner.emit(component, "gqa_ragged_prefill", axes, stage=stage, tp=tp)


def _unsupported_attention_variant(component: Component) -> str | None:
    if component.value("is_cross_attention"):
        return "cross-attention has no flashinfer-trace definition family"
    attn_type = component.value("attn_type")
    if isinstance(attn_type, str) and attn_type.lower() not in ("decoder", "attentiontype.decoder"):
        return f"attention type {attn_type!r} (non-causal) has no definition family here"
    logit_cap = component.value("logit_cap", 0.0)
    if isinstance(logit_cap, (int, float)) and logit_cap > 0:
        return f"attention with logit soft-capping ({logit_cap}) is not expressed by the gqa definitions"
    return None


def _logits(planner: Planner, component: Component) -> None:
    vocab = None
    for candidate in planner.inventory.components:
        if candidate.kind in ("lm_head", "embedding"):
            vocab = candidate.value("num_embeddings")
            if candidate.kind == "lm_head":
                break
    if not isinstance(vocab, int):
        planner.pending(component, "vocabulary size could not be resolved")
        return
    for family in ("top_k_sampling_from_probs", "top_p_sampling_from_probs", "top_k_top_p_sampling_from_probs"):
        planner.emit(component, family, {"vocab_size": vocab})


def _skip(reason: str) -> Callable[[Planner, Component], None]:
    return lambda planner, component: planner.skip(component, reason)


RULES = {
    "norm.rmsnorm": _norm("rmsnorm", "fused_add_rmsnorm"),
    "norm.gemma_rmsnorm": _norm("gemma_rmsnorm", "gemma_fused_add_rmsnorm"),
    "norm.layernorm": _layernorm,
    "linear.qkv": _linear,
    "linear.merged_column": _linear,
    "linear.column": _linear,
    "linear.row": _linear,
    "linear.replicated": _linear,
    "linear.parameter": _linear,
    "linear.torch": _linear,
    "attention.radix": _attention,
    "logits": _logits,
    "lm_head": _skip("the logits projection is not part of the dataset's model kernel sets"),
    "embedding": _skip("an embedding lookup is a gather, with no FlashInfer kernel"),
    "activation": _skip("SiLU-and-mul between the gate_up and down GEMMs is elementwise; not a dataset kernel"),
}


