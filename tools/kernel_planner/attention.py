"""GQA attention (RadixAttention with equal q/k and v head dims), and the variants its
definitions do not describe.

The gqa definitions compute causal softmax attention over the whole cached prefix. A
layer whose math differs is pending with what differs, read from how SGLang builds and
calls it:

- attention sinks: a per-head logit in the softmax denominator, passed at call time
  (`self.attn(q, k, v, fb, sinks=self.sinks)`, gpt-oss); SGLang also refuses the
  FlashInfer backend for such architectures (cited from `Inventory.serving`);
- a sliding window (`sliding_window_size`, per layer: Gemma 2/3 and gpt-oss alternate
  windowed and global layers, and only the windowed ones are pending);
- logit soft-capping, cross-attention, encoder (non-causal) attention.

Head dims that differ between q/k and v go to the MLA rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.model_parser.inventory import Component

if TYPE_CHECKING:
    from tools.kernel_planner import Planner


def _attention(planner: Planner, component: Component) -> None:
    variants = attention_variants(planner, component)
    if variants:
        planner.pending(component, "; ".join(variants))
        return
    heads, kv_heads, head_dim = (component.value(k) for k in ("num_heads", "num_kv_heads", "head_dim"))
    if not all(isinstance(x, int) for x in (heads, kv_heads, head_dim)):
        planner.pending(component, f"attention head counts could not be resolved: {planner.unresolved(component, 'num_heads', 'num_kv_heads', 'head_dim')}")
        return
    if component.value("v_head_dim", -1) not in (-1, None, head_dim):
        from tools.kernel_planner.mla import plan_mla_attention

        plan_mla_attention(planner, component)
        return
    tp = planner.inventory.tp
    axes = {"num_qo_heads": heads, "num_kv_heads": kv_heads, "head_dim": head_dim}
    for stage in planner.stages():
        for page_size in planner.options.page_sizes:
            family = "gqa_paged_decode" if stage == "decode" else "gqa_paged_prefill"
            planner.emit(component, family, {**axes, "page_size": page_size}, stage=stage, tp=tp)
        if stage == "prefill":
            planner.emit(component, "gqa_ragged_prefill", axes, stage=stage, tp=tp)


def attention_variants(planner: Planner, component: Component) -> list[str]:
    """What makes this layer's attention other than plain causal softmax attention."""
    found = []
    if component.value("is_cross_attention"):
        found.append("cross-attention has no flashinfer-trace definition family")
    attn_type = component.value("attn_type")
    if isinstance(attn_type, str) and attn_type.lower() not in ("decoder", "attentiontype.decoder"):
        found.append(f"attention type {attn_type!r} (non-causal) has no definition family here")
    logit_cap = component.value("logit_cap", 0.0)
    if isinstance(logit_cap, (int, float)) and logit_cap > 0:
        found.append(f"attention with logit soft-capping ({logit_cap}) is not expressed by the gqa definitions")
    window = component.params.get("sliding_window_size")
    if window is not None and window.unknown:
        found.append(f"whether the attention is windowed could not be resolved: {planner.unresolved(component, 'sliding_window_size')}")
    elif window is not None and isinstance(window.value, int) and window.value > 0:
        # RadixAttention reads 0 and None as no window (-1); its window excludes the
        # current token (HF sliding_window - 1).
        found.append(
            f"sliding-window attention (SGLang sliding_window_size {window.value}"
            + (f" from {window.expr}" if window.expr else "")
            + (f", on {len(component.layers)} layer(s)" if component.layers else "")
            + "): the gqa definitions attend to the whole causal prefix"
        )
    if "sinks" in component.call_keywords:
        refused = planner.inventory.serving.attention_backend_check if planner.inventory.serving else None
        found.append(
            f"{component.owner_class} passes attention sinks when it calls {component.path.rsplit('.', 1)[-1]} (sinks=...): "
            "a per-head logit in the softmax denominator that the gqa definitions do not have"
            + (f"; SGLang refuses the FlashInfer attention backend for this architecture ({refused})" if refused else "")
        )
    return found


RULES = {"attention.radix": _attention}
