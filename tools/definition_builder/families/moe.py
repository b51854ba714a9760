"""Mixture-of-experts: FlashInfer's TRT-LLM FP8 block-scale MoE, one template per routing.

The routing method is the kernel's contract for how tokens pick experts; the planner
derives it from the model's TopK/FusedMoE arguments (scoring function, grouping,
renormalisation, correction bias), never from the model's name.
"""

from __future__ import annotations

from typing import Any

import torch

from tools.definition_builder.families.common import _TOKENS, FP8, Family, _meta
from tools.errors import DefinitionError
from tools.kernel_spec import KernelSpec

# FlashInfer's RoutingMethodType values (flashinfer 0.7.2 trace templates cover 0-5).
ROUTING_METHODS = {
    "default": 0,  # softmax -> top-k
    "renormalize": 1,  # top-k -> softmax (= softmax -> top-k -> renormalize)
    "deepseek_v3": 2,  # sigmoid + bias -> grouped top-k -> normalised, scaled weights
    "llama4": 3,  # top-1 -> sigmoid
    "renormalize_naive": 4,  # softmax -> top-k -> renormalize
    "topk": 5,  # top-k only, uniform weights
}

F32 = torch.float32
BLOCK = 128


def _moe_fp8_block_scale(spec: KernelSpec) -> dict[str, Any]:
    from flashinfer.fused_moe import trtllm_fp8_block_scale_moe

    routing = spec.options.get("routing")
    if routing not in ROUTING_METHODS:
        raise DefinitionError(f"MoE routing {routing!r} is not one FlashInfer's FP8 block-scale templates cover: {sorted(ROUTING_METHODS)}.")
    e, local, h, i = (spec.axes[a] for a in ("num_experts", "num_local_experts", "hidden_size", "intermediate_size"))
    if h % BLOCK or i % BLOCK:
        raise DefinitionError(f"FP8 block-scale MoE needs hidden and intermediate sizes divisible by {BLOCK}, got {h} and {i}.")
    grouped = routing == "deepseek_v3"
    return trtllm_fp8_block_scale_moe.fi_trace(
        routing_logits=_meta(_TOKENS, e, dtype=F32),
        # Every routing's reference takes the bias (None at run time when unused): keep its dtype.
        routing_bias=_meta(e),
        hidden_states=_meta(_TOKENS, h, dtype=FP8),
        hidden_states_scale=_meta(h // BLOCK, _TOKENS, dtype=F32),
        gemm1_weights=_meta(local, 2 * i, h, dtype=FP8),
        gemm1_weights_scale=_meta(local, 2 * i // BLOCK, h // BLOCK, dtype=F32),
        gemm2_weights=_meta(local, h, i, dtype=FP8),
        gemm2_weights_scale=_meta(local, h // BLOCK, i // BLOCK, dtype=F32),
        num_experts=e,
        top_k=spec.axes["top_k"],
        n_group=spec.axes.get("n_group") if grouped else None,
        topk_group=spec.axes.get("topk_group") if grouped else None,
        intermediate_size=i,
        local_expert_offset=0,
        local_num_experts=local,
        routed_scaling_factor=spec.options.get("routed_scaling_factor"),
        routing_method_type=ROUTING_METHODS[routing],
    )


FAMILIES = (
    Family(
        "moe_fp8_block_scale",
        ("num_experts", "top_k", "num_local_experts", "hidden_size", "intermediate_size"),
        _moe_fp8_block_scale,
        "FP8 block-scale fused MoE (TRT-LLM), by routing method",
    ),
)
