"""Rules for linear-attention layers (SGLang's RadixLinearAttention).

Which recurrence a layer runs is decided by the module that builds it (SGLang picks its
GDN or KDA backend from the model's config class):

- Gated Delta Net (Qwen3-Next) maps to FlashInfer's GDN kernels: chunked prefill,
  decode, and the multi-token (MTP) decode used for speculative verification.
- Kimi Delta Attention (Kimi Linear's `KimiDeltaAttention`) maps to FlashInfer's
  `recurrent_kda`: prefill and decode.

Head counts come from the layer's constructor arguments, already split by TP (SGLang
divides the KDA heads by the shard's TP size).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.model_parser.inventory import Component

if TYPE_CHECKING:
    from tools.kernel_planner import Planner

# Modules that build a KDA layer and pass its gate's lower bound to the constructor, where
# the parser reads it. KimiK3DeltaAttention and Glm5NextLinearAttention also run KDA, but
# set `attn.lower_bound` after construction, out of the parser's sight; a lower-bounded
# gate is another formula, so they stay pending rather than get the unbounded one.
KDA_OWNERS = frozenset({"KimiDeltaAttention"})

# FlashInfer's KDA template: one head dim for q, k and v, of these sizes.
KDA_HEAD_DIMS = (64, 128)


def _linear_attention(planner: Planner, component: Component) -> None:
    if "GatedDeltaNet" in component.owner_class:
        _gated_delta_net(planner, component)
    elif component.owner_class in KDA_OWNERS:
        _kimi_delta_attention(planner, component)
    else:
        planner.pending(
            component, f"linear attention in {component.owner_class}, which is not a Gated Delta Net or a KimiDeltaAttention layer; no definition family covers it"
        )


def _gated_delta_net(planner: Planner, component: Component) -> None:
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


def _kimi_delta_attention(planner: Planner, component: Component) -> None:
    q, k, v = (component.value(p) for p in ("num_q_heads", "num_k_heads", "num_v_heads"))
    dk, dv = component.value("head_k_dim"), component.value("head_v_dim")
    if not all(isinstance(x, int) for x in (q, k, v, dk, dv)):
        planner.pending(component, "KDA head counts or dims could not be resolved")
        return
    bound = component.params.get("lower_bound")
    if bound is not None and (bound.unknown or bound.value is not None):
        shown = "unresolved" if bound.unknown else bound.value
        planner.pending(component, f"KDA with a lower-bounded gate (lower_bound {shown}): the KDA definitions cover the softplus gate only")
        return
    if q != k or v % q:
        planner.pending(component, f"KDA with {q} query, {k} key and {v} value heads: FlashInfer's KDA kernels need key heads = query heads dividing value heads")
        return
    if dk != dv or dk not in KDA_HEAD_DIMS:
        planner.pending(component, f"KDA with key dim {dk} and value dim {dv}: FlashInfer's KDA kernels take one head dim of {KDA_HEAD_DIMS}")
        return
    axes = {"num_q_heads": q, "num_v_heads": v, "head_dim": dk}
    tp = planner.inventory.tp
    if "prefill" in planner.options.stages:
        planner.emit(component, "kda_prefill", axes, stage="prefill", tp=tp)
    if "decode" in planner.options.stages:
        planner.emit(component, "kda_decode", axes, stage="decode", tp=tp)


RULES = {"attention.linear": _linear_attention}
