"""Rules for mixture-of-experts layers: FusedMoE plus its TopK router.

The FP8 block-scale MoE definitions compute gated SwiGLU experts (silu(gate) * up, then
down) without biases over 128-block-scaled FP8 weights (the dataset's convention for bf16
and FP8-block checkpoints alike). What the experts compute is read from the FusedMoE
arguments the model passes (`activation`, `is_gated`, `with_bias`, `gemm1_alpha`,
`gemm1_clamp_limit`, fused shared experts) and from the checkpoint's quantization; a MoE
whose math differs is pending with what differs, before any size check.

The routing method is read from the router's arguments in the model code (scoring
function, grouping, renormalisation, correction bias) and from the routing method the
model passes to FusedMoE, never from the model's name. Experts are split by EP: the
definition's local experts are num_experts / ep. Shared-expert fusion is SGLang's
decision (`Inventory.serving`): a fused shared expert is an extra routed slot that SGLang's
own top-k appends, which the routing definitions do not compute.
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
    for name in ("renormalize", "scoring_func", "use_grouped_topk"):
        param = topk.params.get(name)
        if param is not None and param.unknown:
            return None, {}, f"the router's {name} could not be resolved (from {param.expr or 'a runtime value'})"
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


_DEFINED_QUANTIZATION = {None: "bf16 weights (the dataset writes them as FP8 block-scale)", "fp8": "FP8 weights"}
"""Checkpoint quantizations the FP8 block-scale definitions stand for."""


def expert_math_differences(planner: Planner, component: Component) -> list[str]:
    """How these experts differ from gated SwiGLU over FP8 128-block weights, each with
    the argument or config field it was read from."""
    found = []

    def read(name: str) -> tuple[object, str]:
        param = component.params.get(name)
        if param is None:
            return None, ""
        return (None if param.unknown else param.value), (f" from {param.expr}" if param.expr else "")

    activation, where = read("activation")
    if isinstance(activation, str) and activation.lower() not in ("silu", "swiglu"):
        found.append(f"activation {activation!r}{where}")
    gated, where = read("is_gated")
    if gated is False:
        found.append(f"non-gated experts (is_gated=False{where}: up, activation, down; no gate projection)")
    biased, where = read("with_bias")
    if biased:
        found.append(f"expert biases (with_bias={biased}{where})")
    for name in ("gemm1_alpha", "gemm1_beta", "gemm1_clamp_limit", "swiglu_limit"):
        value, where = read(name)
        if value is not None:
            found.append(f"{name} {value}{where} (a clamped/scaled SwiGLU)")
    for name in ("activation", "is_gated", "with_bias"):
        if component.params.get(name) is not None and component.params[name].unknown:
            found.append(f"{name} could not be resolved ({component.params[name].expr})")
    serving = planner.inventory.serving
    method = serving.quantization if serving else None
    if component.quantized and method not in _DEFINED_QUANTIZATION:
        found.append(f"expert weights stored as {method} (config quantization_config.quant_method)")
    elif component.quantized and method == "fp8" and serving and serving.quantization_detail and "[128, 128]" not in serving.quantization_detail:
        found.append(f"FP8 expert weights without 128x128 blocks ({serving.quantization_detail})")
    fused, where = read("num_fused_shared_experts")
    if isinstance(fused, int) and fused > 0:
        found.append(f"{fused} shared expert(s) fused as routed slots ({serving.shared_experts_reason if serving else 'num_fused_shared_experts'})")
    elif serving is not None and serving.fused_shared_experts is None:
        found.append(serving.shared_experts_reason)
    return found


def _experts(planner: Planner, component: Component) -> None:
    differences = expert_math_differences(planner, component)
    if differences:
        planner.pending(component, "the experts are not what the FP8 block-scale SwiGLU MoE definitions compute: " + "; ".join(differences))
        return
    topk = next((c for c in planner.siblings(component) if c.kind == "moe.topk"), None)
    experts = component.value("num_experts")
    top_k = component.value("top_k") or (topk.value("top_k") if topk else None)
    hidden, inter = component.value("hidden_size"), component.value("intermediate_size")
    if not all(isinstance(x, int) for x in (experts, top_k, hidden, inter)):
        planner.pending(component, f"expert count, top-k or sizes could not be resolved: {planner.unresolved(component, 'num_experts', 'top_k', 'hidden_size', 'intermediate_size')}")
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
        planner.skip(component, "top-k routing is part of the fused MoE beside it (planned with it)")
    else:
        planner.pending(component, "a TopK router without FusedMoE experts beside it")


RULES = {"moe.experts": _experts, "moe.topk": _router}
