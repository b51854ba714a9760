"""Rules for linear-attention layers (SGLang's RadixLinearAttention).

Gated Delta Net (Qwen3-Next) maps to FlashInfer's GDN kernels: chunked prefill, decode,
and the multi-token (MTP) decode used for speculative verification. Other linear
attention kinds SGLang routes through the same layer (Kimi's KDA) have no family here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.model_parser.inventory import Component

if TYPE_CHECKING:
    from tools.kernel_planner import Planner


def _linear_attention(planner: Planner, component: Component) -> None:
    if "GatedDeltaNet" not in component.owner_class:
        planner.pending(component, f"linear attention in {component.owner_class} is not Gated Delta Net; no definition family covers it")
        return
    q, v = component.value("num_q_heads"), component.value("num_v_heads")
    dk, dv = component.value("head_k_dim"), component.value("head_v_dim")
    if not all(isinstance(x, int) for x in (q, v, dk, dv)):
        planner.pending(component, "GDN head counts or dims could not be resolved")
        return
    if dk != dv:
        planner.pending(component, f"GDN with key dim {dk} != value dim {dv}: FlashInfer's GDN kernels take one head size")
        return
    axes = {"num_q_heads": q, "num_v_heads": v, "head_size": dk}
    tp = planner.inventory.tp
    if "prefill" in planner.options.stages:
        planner.emit(component, "gdn_prefill", axes, stage="prefill", tp=tp)
    if "decode" in planner.options.stages:
        planner.emit(component, "gdn_decode", axes, stage="decode", tp=tp)
        planner.emit(component, "gdn_mtp", axes, stage="decode", tp=tp)


RULES = {"attention.linear": _linear_attention}
