"""FlashInfer baseline for `moe_fp8_block_scale_ds_routing_*` definitions on Hopper (SM90): FP8
block-scale MoE with DeepSeek-V3 routing, expert by expert.

The definitions name `trtllm_fp8_block_scale_moe`, a TRT-LLM-gen kernel for SM100/SM120;
the fused SM90 kernel (`cutlass_fused_moe`) needs a JIT build longer than a GPU session
allows. So each local expert hit by a token runs its two GEMMs on
`flashinfer.gemm.fp8_blockscale_gemm_sm90`:
- GEMM1 W8A8: the FP8 hidden states with their per-token 128-column scales, which the
  definition stores as [H/128, T]: the MN-major layout the kernel reads (padded to a
  multiple of 4 tokens);
- SwiGLU in torch: silu of the second half of GEMM1's output (the gate) times the first;
- GEMM2 with the SwiGLU output in bf16, which the kernel quantizes per token and 128
  columns (amax / 448) as the fused kernels do.
The routing weights' sum over each token's experts runs in torch. DeepSeek-V3 routing
(sigmoid scores plus the correction bias, the best `TOPK_GROUP` of `N_GROUP` groups by
the sum of their two best scores, the best `TOP_K` experts in them, weights the unbiased
scores normalised and times `routed_scaling_factor`) runs on
`flashinfer.fused_moe.fused_topk_deepseek` where it accepts the configuration
(`ROUTING_KERNEL`), else in torch.
"""

import flashinfer
import torch

# The definition's routing, filled in per definition (the reference bakes them in).
TOP_K = None
N_GROUP = None
TOPK_GROUP = None
ROUTING_KERNEL = None
BLOCK = 128


def run(
    routing_logits,
    routing_bias,
    hidden_states,
    hidden_states_scale,
    gemm1_weights,
    gemm1_weights_scale,
    gemm2_weights,
    gemm2_weights_scale,
    local_expert_offset,
    routed_scaling_factor,
):
    from flashinfer.fused_moe import fused_topk_deepseek

    scale = 1.0 if routed_scaling_factor is None else float(routed_scaling_factor)
    if ROUTING_KERNEL == "fused_topk_deepseek":
        experts, weights = route_fused(routing_logits, routing_bias, scale, fused_topk_deepseek)
    else:
        experts, weights = route_torch(routing_logits, routing_bias, scale)
    return moe_experts(
        experts, weights, hidden_states, hidden_states_scale, gemm1_weights, gemm1_weights_scale,
        gemm2_weights, gemm2_weights_scale, int(local_expert_offset), flashinfer.gemm.fp8_blockscale_gemm_sm90,
    )


def route_fused(logits, bias, scale, fused_topk):
    """`fused_topk(scores, bias, n_group, topk_group, topk, scale, values_out, indices_out)`."""
    scores = logits if logits.dtype in (torch.float32, torch.bfloat16) else logits.float()
    tokens = scores.shape[0]
    values = torch.empty(tokens, TOP_K, dtype=scores.dtype, device=scores.device)
    indices = torch.empty(tokens, TOP_K, dtype=torch.int32, device=scores.device)
    fused_topk(scores.contiguous(), bias.contiguous(), N_GROUP, TOPK_GROUP, TOP_K, scale, values, indices)
    return indices.long(), values.float()


def route_torch(logits, bias, scale):
    sigmoid = torch.sigmoid(logits.float())
    biased = sigmoid + bias.float()
    tokens, experts = biased.shape
    per_group = experts // N_GROUP
    group_score = biased.view(tokens, N_GROUP, per_group).topk(min(2, per_group), dim=-1).values.sum(-1)
    kept = torch.zeros(tokens, N_GROUP, dtype=torch.bool, device=logits.device)
    kept.scatter_(1, group_score.topk(TOPK_GROUP, dim=-1).indices, True)
    masked = biased.masked_fill(~kept.repeat_interleave(per_group, dim=1), float("-inf"))
    chosen = masked.topk(TOP_K, dim=-1).indices
    weights = sigmoid.gather(1, chosen)
    return chosen, weights / weights.sum(-1, keepdim=True).clamp(min=1e-20) * scale


def moe_experts(experts, weights, hidden_states, hidden_states_scale, w1, s1, w2, s2, offset, gemm):
    """Sum over each token's local experts of weight * GEMM2(SwiGLU(GEMM1(x))), expert by expert."""
    tokens, hidden = hidden_states.shape
    inter = w2.shape[2]
    output = torch.zeros(tokens, hidden, dtype=torch.float32, device=hidden_states.device)
    local = experts - offset
    for expert in torch.unique(local[(local >= 0) & (local < w1.shape[0])]).tolist():
        rows, slots = torch.nonzero(local == expert, as_tuple=True)
        count = rows.numel()
        a_scale = torch.zeros(hidden // BLOCK, -(-count // 4) * 4, dtype=torch.float32, device=rows.device)
        a_scale[:, :count] = hidden_states_scale[:, rows].to(torch.float32)
        up_gate = gemm(hidden_states[rows].contiguous(), w1[expert], a_scale, s1[expert].float().contiguous(), out_dtype=torch.bfloat16).float()
        act = torch.nn.functional.silu(up_gate[:, inter:]) * up_gate[:, :inter]
        down = gemm(act.to(torch.bfloat16), w2[expert], None, s2[expert].float().contiguous(), out_dtype=torch.bfloat16)
        output.index_add_(0, rows, down.float() * weights[rows, slots].unsqueeze(1))
    return output.to(torch.bfloat16)
