"""FlashInfer baseline for `gdn_prefill_*_k_last` definitions: `flashinfer.gdn_prefill.chunk_gated_delta_rule`,
on Hopper its CuTe DSL chunked kernel, over packed sequences (cu_seqlens) with a k-last float32
state per sequence [N, HV, V, K].

The kernel takes the gates as float32 [T, HV] tensors, so they are computed here from the
raw inputs as the definitions do: g = exp(-exp(A_log) * softplus(a + dt_bias)) (the forget
gate, linear) and beta = sigmoid(b). q and k are used as given (use_qk_l2norm_in_kernel=False).
A scale of 0 means 1/sqrt(head_size). Head size 128 only. Needs nvidia-cutlass-dsl.
"""

import torch


def run(q, k, v, state, A_log, a, dt_bias, b, cu_seqlens, scale):
    from flashinfer.gdn_prefill import chunk_gated_delta_rule

    return gdn_prefill(q, k, v, state, A_log, a, dt_bias, b, cu_seqlens, scale, chunk_gated_delta_rule)


def gates(A_log, a, dt_bias, b):
    """(g, beta), float32 [T, HV]."""
    g = torch.exp(-torch.exp(A_log.float()) * torch.nn.functional.softplus(a.float() + dt_bias.float()))
    return g.contiguous(), torch.sigmoid(b.float()).contiguous()


def gdn_prefill(q, k, v, state, A_log, a, dt_bias, b, cu_seqlens, scale, kernel):
    g, beta = gates(A_log, a, dt_bias, b)
    initial = state.to(torch.float32).contiguous()
    final = torch.empty_like(initial)
    scale = None if scale is None or float(scale) == 0.0 else float(scale)
    result = kernel(
        q, k, v, g=g, beta=beta, scale=scale, initial_state=initial, output_final_state=True,
        cu_seqlens=cu_seqlens.to(torch.int32), use_qk_l2norm_in_kernel=False, output_state=final,
    )
    output = result[0] if isinstance(result, tuple) else result
    return output, final
