"""FlashInfer baseline for `fused_add_rmsnorm_h*` definitions: `flashinfer.norm.fused_add_rmsnorm`.

The API works in place: it adds `input` into `residual`, then writes the normalised sum
over `input`. The definition returns the normalised sum and leaves its inputs alone, so
the call runs on copies.
"""

import flashinfer

EPS = 1e-6  # the definitions fix epsilon at 1e-6


def run(hidden_states, residual, weight):
    output = hidden_states.clone()
    flashinfer.norm.fused_add_rmsnorm(output, residual.clone(), weight, eps=EPS)
    return output
