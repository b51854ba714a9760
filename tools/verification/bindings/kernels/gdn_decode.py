"""FlashInfer baseline for `gdn_decode_*_k_last` definitions:
`flashinfer.gdn_decode.gated_delta_rule_decode_pretranspose`, the CuTe DSL decode kernel that keeps
the state k-last ([B, HV, V, K], float32), as the definitions do.

The kernel computes the gates itself from the raw inputs, g = exp(-exp(A_log) * softplus(a + dt_bias))
and beta = sigmoid(b), and updates the state in place (here a copy, returned as new_state).
q and k are used as given (use_qk_l2norm=False: the definitions do not normalise them).
A scale of 0 means 1/sqrt(head_size). Needs nvidia-cutlass-dsl; SM90 or later.
"""

import torch


def run(q, k, v, state, A_log, a, dt_bias, b, scale):
    from flashinfer.gdn_decode import gated_delta_rule_decode_pretranspose

    return gdn_decode(q, k, v, state, A_log, a, dt_bias, b, scale, gated_delta_rule_decode_pretranspose)


def gdn_decode(q, k, v, state, A_log, a, dt_bias, b, scale, kernel):
    new_state = state.to(torch.float32).contiguous().clone()
    scale = None if scale is None or float(scale) == 0.0 else float(scale)
    output, _ = kernel(q, k, v, new_state, A_log.to(torch.float32), a, dt_bias.to(torch.float32), b, scale=scale, use_qk_l2norm=False)
    return output, new_state
