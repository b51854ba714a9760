"""FlashInfer baseline for `moe_fp8_block_scale_renorm_*` definitions on Hopper (SM90): FP8
block-scale MoE with renormalize routing, expert by expert.

The definitions name `trtllm_fp8_block_scale_moe`, a TRT-LLM-gen kernel for SM100/SM120;
the fused SM90 kernel (`cutlass_fused_moe`) needs a JIT build longer than a GPU session
allows, and FlashInfer has no SM90 kernel for this routing. So the routing (the best
`TOP_K` logits, softmax over them) runs in torch, and each local expert hit by a token
runs its two GEMMs on `flashinfer.gemm.fp8_blockscale_gemm_sm90`:
- GEMM1 W8A8: the FP8 hidden states with their per-token 128-column scales, which the
  definition stores as [H/128, T]: the MN-major layout the kernel reads (padded to a
  multiple of 4 tokens);
- SwiGLU in torch: silu of the second half of GEMM1's output (the gate) times the first;
- GEMM2 with the SwiGLU output in bf16, which the kernel quantizes per token and 128
  columns (amax / 448) as the fused kernels do.
The weighted sum over each token's experts runs in torch. With expert parallelism the
logits cover all experts and `local_expert_offset` says where this rank's start.
"""

import flashinfer
import torch

TOP_K = None  # the definition's top-k, filled in per definition (the reference bakes it in)
BLOCK = 128


def run(
    routing_logits,
    hidden_states,
    hidden_states_scale,
    gemm1_weights,
    gemm1_weights_scale,
    gemm2_weights,
    gemm2_weights_scale,
    local_expert_offset=0,
):
    experts, weights = route_torch(routing_logits)
    return moe_experts(
        experts, weights, hidden_states, hidden_states_scale, gemm1_weights, gemm1_weights_scale,
        gemm2_weights, gemm2_weights_scale, int(local_expert_offset), flashinfer.gemm.fp8_blockscale_gemm_sm90,
    )


def route_torch(logits):
    best, chosen = torch.topk(logits.float(), k=TOP_K, dim=-1)
    return chosen, torch.softmax(best, dim=-1)


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
