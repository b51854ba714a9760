"""FP8 block-scale MoE on Hopper: each expert's GEMMs on `fp8_blockscale_gemm_sm90`, the routing on
`fused_topk_deepseek` where it accepts the configuration, else in torch.

The definitions name `trtllm_fp8_block_scale_moe` (TRT-LLM-gen, SM100/SM120). The fused SM90
kernel, `cutlass_fused_moe(use_deepseek_fp8_block_scale=True)`, needs the fused_moe_90 JIT
module: 248 objects at ~75 s each, ~1100 s at 16 jobs on the H200 (2026-11-29), more than a
10-minute GPU call. Expert by expert, `fp8_blockscale_gemm_sm90` computes the same GEMMs.
The routing constants (top_k, n_group, topk_group) are baked into the definitions'
references, not inputs: they come from the definition's constant axes, else its name.
"""

from __future__ import annotations

import re
from typing import Any

from tools.verification.bindings import Binding
from tools.verification.bindings.signatures import const_axis

TRTLLM = "trtllm_fp8_block_scale_moe"
GEMM = "fp8_blockscale_gemm_sm90"
_EXPERTS = f"experts: {GEMM} (GEMM1 W8A8, GEMM2 bf16 x FP8); SwiGLU and the weighted sum: torch"
_DS_NAME = re.compile(r"_topk(\d+)_ng(\d+)_kg(\d+)_")
_TOPK_NAME = re.compile(r"_topk(\d+)_")


def _routing_axes(definition: dict[str, Any], names: tuple[str, ...], pattern: re.Pattern[str]) -> dict[str, int]:
    from_axes = {n: const_axis(definition, n) for n in names}
    if all(v is not None for v in from_axes.values()):
        return from_axes  # type: ignore[return-value]
    found = pattern.search(definition["name"])
    if not found:
        raise ValueError(f"the routing constants {', '.join(names)} are neither constant axes nor in the name")
    return dict(zip(names, map(int, found.groups())))


def fused_routing_refusal(num_experts: int, n_group: int, topk_group: int, top_k: int) -> str | None:
    """Why `fused_topk_deepseek` refuses a configuration, or None: its own checks
    (flashinfer/fused_moe/fused_routing_dsv3.py, `_check_dsv3_fused_routing_supported`)."""
    if topk_group * n_group < top_k or topk_group > n_group:
        return f"topk_group * n_group ({topk_group * n_group}) must be >= top_k ({top_k}) and topk_group <= n_group"
    if top_k > 8:
        return f"top_k ({top_k}) must be <= 8"
    if n_group > 1:
        if num_experts / n_group > 32:
            return f"num_experts / n_group ({num_experts / n_group:g}) must be <= 32"
        if num_experts / n_group * topk_group > 128:
            return f"num_experts / n_group * topk_group ({num_experts / n_group * topk_group:g}) must be <= 128"
    elif num_experts > 384:
        return f"num_experts ({num_experts}) must be <= 384 with n_group = 1"
    return None


def _deepseek_constants(definition: dict[str, Any]) -> dict[str, Any]:
    routing = _routing_axes(definition, ("top_k", "n_group", "topk_group"), _DS_NAME)
    experts = const_axis(definition, definition["inputs"]["routing_logits"]["shape"][1])
    if experts is None:
        raise ValueError("the routing logits have no constant expert count")
    refusal = fused_routing_refusal(experts, routing["n_group"], routing["topk_group"], routing["top_k"])
    note = "fused_topk_deepseek" if refusal is None else f"torch, not checked against FlashInfer (fused_topk_deepseek refuses it: {refusal})"
    return {
        "TOP_K": routing["top_k"],
        "N_GROUP": routing["n_group"],
        "TOPK_GROUP": routing["topk_group"],
        "ROUTING_KERNEL": "fused_topk_deepseek" if refusal is None else "torch",
        "_routing": note,
    }


def _renormalize_constants(definition: dict[str, Any]) -> dict[str, Any]:
    return {"TOP_K": _routing_axes(definition, ("top_k",), _TOPK_NAME)["top_k"]}


BINDINGS = [
    Binding(
        name="moe_fp8_block_scale_ds_routing_sm90",
        prepare_all_cases=True,
        build_seconds=148,
        fi_api=f"flashinfer.gemm.{GEMM}",
        kernel="moe_fp8_ds_routing",
        op_type="moe",
        serves=(TRTLLM,),
        applies=lambda definition: "_ds_routing_" in definition["name"],
        compute_capabilities=((9, 0),),
        constants=_deepseek_constants,
        checked=f"{_EXPERTS}; routing: {{_routing}}",
        description=f"DeepSeek-V3 routing, then each expert's GEMMs on flashinfer.gemm.{GEMM} (stands in for {TRTLLM}, SM100+)",
    ),
    Binding(
        name="moe_fp8_block_scale_renorm_sm90",
        prepare_all_cases=True,
        build_seconds=148,
        fi_api=f"flashinfer.gemm.{GEMM}",
        kernel="moe_fp8_renorm",
        op_type="moe",
        serves=(TRTLLM,),
        applies=lambda definition: "_renorm" in definition["name"],
        compute_capabilities=((9, 0),),
        constants=_renormalize_constants,
        checked=f"{_EXPERTS}; routing (top-k, softmax): torch, not checked against FlashInfer (no SM90 kernel for it)",
        description=f"renormalize routing in torch, then each expert's GEMMs on flashinfer.gemm.{GEMM} (stands in for {TRTLLM}, SM100+)",
    ),
]
