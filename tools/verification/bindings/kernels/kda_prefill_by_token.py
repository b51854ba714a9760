"""FlashInfer baseline for `kda_prefill_*_k_last` definitions on Hopper (SM90): `flashinfer.kda_decode.recurrent_kda`,
the CuTe DSL recurrent kernel, run one token of every sequence at a time.

The definitions name `flashinfer.kda.recurrent_kda` with packed sequences (cu_seqlens). In
FlashInfer 0.7.2 its multi-token prefill backends run on SM100/SM103/SM120 only; on SM90 a
multi-token call falls through to the decode kernel, which reads one token per sequence
(NUM_TOKENS = 1, kda_kernels/recurrent_kda.py) and leaves the others unprocessed. So this
binding makes the decode kernel's own contract explicit: step t packs the t-th token of
every sequence that has one ([1, n, ...], cu_seqlens = 0..n) with that sequence's state
slot, and the kernel updates the bf16 pool in place (here a copy, returned as final_state).
The gate is activated in the kernel (use_gate_in_kernel), q and k L2-normalised, beta a
logit (beta_is_logit). Between tokens the state is stored in bf16, as the pool is; the
definitions keep a sequence's state in float32 until its end, so long sequences drift by
bf16 rounding. A scale of 0 means 1/sqrt(head_dim). Needs nvidia-cutlass-dsl.
"""

import torch


def run(q, k, v, g, beta, A_log, dt_bias, scale, initial_state, cu_seqlens, ssm_state_indices):
    from flashinfer.kda_decode import recurrent_kda

    return kda_prefill_by_token(q, k, v, g, beta, A_log, dt_bias, scale, initial_state, cu_seqlens, ssm_state_indices, recurrent_kda)


def kda_prefill_by_token(q, k, v, g, beta, A_log, dt_bias, scale, initial_state, cu_seqlens, ssm_state_indices, kernel):
    pool = initial_state.contiguous().clone()
    output = torch.zeros_like(v)
    scale = None if scale is None or float(scale) == 0.0 else float(scale)
    starts = cu_seqlens[:-1].to(torch.int64)
    lengths = cu_seqlens[1:].to(torch.int64) - starts
    slots = ssm_state_indices.to(torch.int32)
    a_log, bias = A_log.to(torch.float32), dt_bias.to(torch.float32).reshape(-1)
    for step in range(int(lengths.max()) if lengths.numel() else 0):
        active = lengths > step
        tokens = starts[active] + step
        count = int(tokens.numel())
        packed = torch.arange(count + 1, dtype=torch.int32, device=q.device)
        output[:, tokens] = kernel(
            q[:, tokens].contiguous(), k[:, tokens].contiguous(), v[:, tokens].contiguous(), g[:, tokens].contiguous(), beta[:, tokens].contiguous(),
            A_log=a_log, dt_bias=bias, scale=scale, initial_state=pool, output_final_state=False, use_qk_l2norm_in_kernel=True,
            use_gate_in_kernel=True, cu_seqlens=packed, ssm_state_indices=slots[active].contiguous(), beta_is_logit=True,
        )[0]
    return output, pool
