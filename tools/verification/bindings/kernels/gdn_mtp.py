"""FlashInfer baseline for `gdn_mtp_*_k_last` definitions (multi-token verification in speculative
decoding): `flashinfer.gdn_decode.gated_delta_rule_mtp`, the CuTe DSL kernel over a k-last float32
state pool [pool, HV, V, K].

Each batch row runs its tokens from the pool slot `initial_state_indices` names; the
definitions leave the pool unchanged (disable_state_update) and return it as final_state,
and use q and k as given (use_qk_l2norm=False). The gates come from the raw inputs in the
kernel: g = exp(-exp(A_log) * softplus(a + dt_bias)), beta = sigmoid(b). A scale of 0 means
1/sqrt(head_size). The intermediate-state buffer is not part of the outputs and is not passed.
Needs nvidia-cutlass-dsl; SM90 or later.
"""

import torch


def run(q, k, v, initial_state, initial_state_indices, A_log, a, dt_bias, b, scale, intermediate_states_buffer=None):
    from flashinfer.gdn_decode import gated_delta_rule_mtp

    return gdn_mtp(q, k, v, initial_state, initial_state_indices, A_log, a, dt_bias, b, scale, gated_delta_rule_mtp)


def gdn_mtp(q, k, v, initial_state, initial_state_indices, A_log, a, dt_bias, b, scale, kernel):
    pool = initial_state.to(torch.float32).contiguous().clone()
    scale = None if scale is None or float(scale) == 0.0 else float(scale)
    output, _ = kernel(
        q, k, v, pool, initial_state_indices.to(torch.int32), A_log.to(torch.float32), a, dt_bias.to(torch.float32), b,
        scale=scale, disable_state_update=True, use_qk_l2norm=False,
    )
    return output, pool
