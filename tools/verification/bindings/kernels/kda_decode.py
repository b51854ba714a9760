"""FlashInfer baseline for `kda_decode_*_k_last` definitions: `flashinfer.kda_decode.recurrent_kda`, the
CuTe DSL recurrent kernel, one token per batch row, as SGLang calls it for Kimi Linear.

The gate is activated in the kernel from A_log and dt_bias (use_gate_in_kernel), q and k are
L2-normalised in the kernel, beta is already a rate in (0, 1), and the bf16 state pool
[slots, HV, V, K] (k-last) is read and updated at each row's slot (here on a copy, returned as
final_state). A scale of 0 means 1/sqrt(head_dim). Needs nvidia-cutlass-dsl.
"""

import torch


def run(q, k, v, g, beta, A_log, dt_bias, scale, initial_state, ssm_state_indices):
    from flashinfer.kda_decode import recurrent_kda

    return kda_decode(q, k, v, g, beta, A_log, dt_bias, scale, initial_state, ssm_state_indices, recurrent_kda)


def kda_decode(q, k, v, g, beta, A_log, dt_bias, scale, initial_state, ssm_state_indices, kernel):
    pool = initial_state.contiguous().clone()
    scale = None if scale is None or float(scale) == 0.0 else float(scale)
    output = kernel(
        q, k, v, g, beta, A_log=A_log.to(torch.float32), dt_bias=dt_bias.to(torch.float32).reshape(-1), scale=scale,
        initial_state=pool, output_final_state=False, use_qk_l2norm_in_kernel=True, use_gate_in_kernel=True,
        ssm_state_indices=ssm_state_indices.to(torch.int32),
    )[0]
    return output, pool
