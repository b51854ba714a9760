"""Rules for mixture-of-experts layers: FusedMoE plus its TopK router.

The routing method is read from the router's arguments in the model code (scoring
function, grouping, renormalisation, correction bias) and from the routing method the
model passes to FusedMoE, never from the model's name. Experts are split by EP: the
definition's local experts are num_experts / ep. Shared-expert fusion is a backend
optimisation the parser assumes off, so routed experts and top-k are the model's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.model_parser.inventory import Component

if TYPE_CHECKING:
    from tools.kernel_planner import Planner

# SGLang's RoutingMethodType numbering (sglang/srt/layers/moe/utils.py).
_SGLANG_LLAMA4 = 3
BLOCK = 128


def routing_method(topk: Component | None, experts: Component) -> tuple[str | None, dict[str, int], str]:
    """(FlashInfer routing name or None, grouping axes, explanation) for a MoE layer."""
    declared = experts.value("routing_method_type")
    declared = declared[0] if isinstance(declared, list) and declared else declared
    if topk is None:
        return None, {}, "the MoE layer has no TopK router the parser could read"
    scoring = topk.value("scoring_func", "softmax")
    renormalize = topk.value("renormalize")
    if topk.value("custom_routing_function") is not None:
        if declared == _SGLANG_LLAMA4:
            return "llama4", {}, "custom router declared as Llama4 routing (top-1, sigmoid)"
        return None, {}, f"custom routing function {topk.value('custom_routing_function')!r} has no FlashInfer routing method"
    has_bias = isinstance(topk.value("correction_bias"), str)
    if topk.value("use_grouped_topk"):
        groups = {"n_group": topk.value("num_expert_group"), "topk_group": topk.value("topk_group")}
        if not all(isinstance(v, int) for v in groups.values()):
            return None, {}, "grouped top-k with unresolved group counts"
        # SGLang hands grouped routing to the kernel only as DeepSeek-V3 routing (a
        # correction bias, renormalised); any other grouped router it runs itself and
        # passes the chosen experts to the routed MoE kernel instead.
        if not (has_bias and renormalize):
            return None, {}, (
                f"grouped top-k ({scoring}, bias={has_bias}, renormalize={renormalize}) is not DeepSeek-V3 routing: "
                "SGLang computes the top-k itself and calls the routed FP8 MoE kernel, which no family here covers"
            )
        return "deepseek_v3", groups, f"grouped top-k ({scoring}, {groups['n_group']} groups, {groups['topk_group']} kept)"
    if scoring == "sigmoid" and has_bias and renormalize:
        return "deepseek_v3", {"n_group": 1, "topk_group": 1}, "sigmoid scores with a correction bias, renormalised (DeepSeek-V3 routing, one group)"
    if scoring == "softmax":
        if renormalize:
            return "renormalize", {}, "softmax top-k, renormalised"
        return "default", {}, "softmax then top-k"
    return None, {}, f"{scoring} routing (renormalize={renormalize}, bias={has_bias}) has no FlashInfer FP8 MoE routing method"


def _experts(planner: Planner, component: Component) -> None:
    topk = next((c for c in planner.siblings(component) if c.kind == "moe.topk"), None)
    experts = component.value("num_experts")
    top_k = component.value("top_k") or (topk.value("top_k") if topk else None)
    hidden, inter = component.value("hidden_size"), component.value("intermediate_size")
    if not all(isinstance(x, int) for x in (experts, top_k, hidden, inter)):
        planner.pending(component, "expert count, top-k or sizes could not be resolved")
        return
    routing, groups, why = routing_method(topk, component)
    if routing is None:
        planner.pending(component, why)
        return
    ep = planner.inventory.ep
    if experts % ep:
        planner.pending(component, f"{experts} experts do not split evenly over EP={ep}")
        return
    if hidden % BLOCK or inter % BLOCK:
        planner.pending(component, f"FP8 block-scale MoE needs sizes divisible by {BLOCK} (hidden {hidden}, intermediate {inter})")
        return
    axes = {"num_experts": experts, "top_k": top_k, **groups, "num_local_experts": experts // ep, "hidden_size": hidden, "intermediate_size": inter}
    scaling = component.value("routed_scaling_factor", topk.value("routed_scaling_factor") if topk else None)
    options = {"routing": routing, "routed_scaling_factor": scaling if routing == "deepseek_v3" else None}
    planner.emit(component, "moe_fp8_block_scale", axes, options=options, ep=ep)



def _router(planner: Planner, component: Component) -> None:
    if any(c.kind == "moe.experts" for c in planner.siblings(component)):
        planner.skip(component, "top-k routing runs inside the fused MoE kernel")
    else:
        planner.pending(component, "a TopK router without FusedMoE experts beside it")


RULES = {"moe.experts": _experts, "moe.topk": _router}
