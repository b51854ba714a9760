"""Mixture-of-experts: FlashInfer's TRT-LLM FP8 block-scale MoE, one template per routing.

The routing method is the kernel's contract for how tokens pick experts; the planner
derives it from the model's TopK/FusedMoE arguments (scoring function, grouping,
renormalisation, correction bias), never from the model's name.

The definitions follow the dataset's MoE files (`tools/family_conventions.py`): the
routing's constants (top_k, and n_group/topk_group for DeepSeek routing) are baked into
the reference, not inputs; DeepSeek routing takes the global routing logits, the
correction bias, the local expert offset and the scaling factor; the other routings
take neither bias nor scalars, and route over their local experts at EP=1 and over all
experts (with the local expert offset) at EP > 1. The reference is a `run` that calls
FlashInfer's template reference of the routing with those constants.
"""

from __future__ import annotations

import re
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

EXPERT_INPUTS = ("hidden_states", "hidden_states_scale", "gemm1_weights", "gemm1_weights_scale", "gemm2_weights", "gemm2_weights_scale")
CONSTRAINTS = ["gemm1_weights.shape[1] == 2 * intermediate_size", "gemm2_weights.shape[1] == hidden_size", "gemm2_weights.shape[2] == intermediate_size"]
_SIZE_AXES = ("hidden_size", "intermediate_size", "gemm1_out_size", "top_k", "num_hidden_blocks", "num_intermediate_blocks", "num_gemm1_out_blocks")


def _traced(spec: KernelSpec, routing: str) -> dict[str, Any]:
    """FlashInfer's template for the routing: the name, the input specs and the reference source."""
    from flashinfer.fused_moe import trtllm_fp8_block_scale_moe

    e, local, h, i = (spec.axes[a] for a in ("num_experts", "num_local_experts", "hidden_size", "intermediate_size"))
    grouped = routing == "deepseek_v3"
    # SGLang passes the router's logits as its gate produced them: DeepSeek's MoEGate
    # computes them in float32, the other routers are bf16 linears.
    return trtllm_fp8_block_scale_moe.fi_trace(
        routing_logits=_meta(_TOKENS, e, dtype=F32 if grouped else torch.bfloat16),
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


def _moe_fp8_block_scale(spec: KernelSpec) -> dict[str, Any]:
    routing = spec.options.get("routing")
    if routing not in ROUTING_METHODS:
        raise DefinitionError(f"MoE routing {routing!r} is not one FlashInfer's FP8 block-scale templates cover: {sorted(ROUTING_METHODS)}.")
    e, local, h, i = (spec.axes[a] for a in ("num_experts", "num_local_experts", "hidden_size", "intermediate_size"))
    if h % BLOCK or i % BLOCK:
        raise DefinitionError(f"FP8 block-scale MoE needs hidden and intermediate sizes divisible by {BLOCK}, got {h} and {i}.")
    grouped = routing == "deepseek_v3"
    global_routing = grouped or local < e
    raw = _traced(spec, routing)
    template_inputs = raw["inputs"]

    axes_order = ("seq_len", *(("num_experts",) if global_routing else ()), "num_local_experts", *_SIZE_AXES)
    routing_axis = "num_experts" if global_routing else "num_local_experts"
    inputs: dict[str, Any] = {"routing_logits": {**template_inputs["routing_logits"], "shape": ["seq_len", routing_axis]}}
    if grouped:
        inputs["routing_bias"] = template_inputs["routing_bias"]
    inputs.update({name: template_inputs[name] for name in EXPERT_INPUTS})
    if global_routing:
        inputs["local_expert_offset"] = template_inputs["local_expert_offset"]
    if grouped:
        inputs["routed_scaling_factor"] = template_inputs["routed_scaling_factor"]
    inputs = {name: {k: v for k, v in tensor.items() if k != "optional"} for name, tensor in inputs.items()}

    constants = {"TOP_K": spec.axes["top_k"]}
    if grouped:
        constants.update(N_GROUP=spec.axes["n_group"], TOPK_GROUP=spec.axes["topk_group"])
    baked = ", ".join(f"{k.lower()}={v}" for k, v in constants.items())
    return {
        "name": raw["name"],
        "op_type": "moe",
        "description": f"{raw.get('description', '').rstrip('.')}. Routing constants baked into the reference: {baked}.",
        "tags": [],
        "axes": {axis: raw["axes"][axis] for axis in axes_order},
        "constraints": list(CONSTRAINTS),
        "inputs": inputs,
        "outputs": raw["outputs"],
        "reference": _wrapped_reference(raw["reference"], list(inputs), constants, grouped=grouped),
    }


def _wrapped_reference(template_source: str, params: list[str], constants: dict[str, int], *, grouped: bool) -> str:
    """The template's source plus `run(*params)`, which calls the template's reference
    with the routing constants and, for what the definition does not take, the values
    SGLang passes: no bias, offset 0 (all experts local), no scaling."""
    references = re.findall(r"^def (_trtllm_fp8_block_scale_moe_\w+_reference)\(", template_source, re.M)
    if len(references) != 1:
        raise DefinitionError(f"FlashInfer's MoE template source defines {len(references)} routing references, expected one.")
    given = set(params)
    arguments = [
        "routing_logits",
        "routing_bias" if "routing_bias" in given else "None",
        *EXPERT_INPUTS,
        "TOP_K",
        *(("N_GROUP", "TOPK_GROUP") if grouped else ()),
        "local_expert_offset" if "local_expert_offset" in given else "0",
        "routed_scaling_factor" if "routed_scaling_factor" in given else "None",
    ]
    prelude = "".join(f"{name} = {value}\n" for name, value in constants.items())
    run = (
        f"\n\n{prelude}\n\n@torch.no_grad()\ndef run({', '.join(params)}):\n"
        f"    return {references[0]}(\n" + "".join(f"        {a},\n" for a in arguments) + "    )\n"
    )
    return template_source.rstrip("\n") + "\n" + run


FAMILIES = (
    Family(
        "moe_fp8_block_scale",
        ("num_experts", "top_k", "num_local_experts", "hidden_size", "intermediate_size"),
        _moe_fp8_block_scale,
        "FP8 block-scale fused MoE (TRT-LLM), by routing method",
        reference_name="run",
        kept_axes=("top_k",),
    ),
)
