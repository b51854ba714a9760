"""APIs no binding serves, with the reason: the text of their `unverifiable` verdicts.

Each reason is a measured or sourced fact about FlashInfer 0.7.2.post1 on the Hopper
GPUs (SM90) this project verifies on, not a guess: the file and line, or the H200 run,
that shows it.
"""

from __future__ import annotations

_TRTLLM_GEN = (
    "a TRT-LLM-gen kernel built only for SM100/SM103 and SM120 (flashinfer/jit/fused_moe.py "
    "gen_trtllm_gen_fused_moe_sm100_module: supported_major_versions=[10, 12]); "
)
_FUSED_MOE_90 = (
    "the SM90 route, cutlass_fused_moe, needs the fused_moe_90 JIT module: 248 objects of ~75 s each, "
    "~1100 s at 16 jobs (measured on the H200, 2026-11-29), more than one 10-minute GPU call"
)

BY_API: dict[str, str] = {
    "trtllm_fp4_block_scale_moe": _TRTLLM_GEN + "FlashInfer 0.7.2 has no SM90 kernel for FP4 (MXFP4) block-scale MoE",
    "trtllm_fp4_block_scale_routed_moe": _TRTLLM_GEN + "FlashInfer 0.7.2 has no SM90 kernel for FP4 (MXFP4) block-scale MoE",
    "trtllm_fp8_per_tensor_scale_moe": _TRTLLM_GEN + _FUSED_MOE_90,
}
"""Reasons by API name (`api_name` of the `fi_api:` tag)."""

BY_OP_TYPE: dict[str, str] = {}
"""Reasons for untagged definitions, by op type."""


def unbound_reason(api: str | None, op_type: str) -> str | None:
    if api is not None and api in BY_API:
        return f"{api}: {BY_API[api]}"
    return BY_OP_TYPE.get(op_type)
