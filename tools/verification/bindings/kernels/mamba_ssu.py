"""FlashInfer baseline for `mamba_ssu_decode_*` definitions: `flashinfer.mamba.selective_state_update`
(Mamba2 selective state update, one token per sequence; its SM90 module on Hopper).

The definitions take A [nheads, head_dim, dstate], D and dt_bias [nheads, head_dim] and dt
[batch, nheads, head_dim] in full; Mamba2 ties them over head_dim (and A over dstate), and
the kernel reads them that way: one value per head (per row and head for dt), passed as
broadcast views. Inputs that are not tied raise instead of being read wrongly. dt goes
through softplus(dt + dt_bias) in the kernel, as in the definitions. The state cache is
updated at each row's slot (here on a copy, returned as new_state).
"""

import flashinfer
import torch


def run(state, x, dt, A, B, C, D, dt_bias, state_batch_indices):
    return selective_state_update(state, x, dt, A, B, C, D, dt_bias, state_batch_indices, flashinfer.mamba.selective_state_update)


def per_head(tensor, name, leading):
    """The value per leading index of a tensor tied over its other dims, as a broadcast view of the same shape."""
    first = tensor[(slice(None),) * leading + (0,) * (tensor.dim() - leading)]
    expanded = first.reshape(*first.shape, *([1] * (tensor.dim() - leading))).expand(tensor.shape)
    if not torch.equal(tensor, expanded):
        raise ValueError(f"{name} varies over head_dim: FlashInfer's selective_state_update takes one value per head")
    values = first.contiguous()
    return values.reshape(*values.shape, *([1] * (tensor.dim() - leading))).expand(tensor.shape)


def selective_state_update(state, x, dt, A, B, C, D, dt_bias, state_batch_indices, kernel):
    new_state = state.contiguous().clone()
    output = kernel(
        new_state, x.contiguous(), per_head(dt, "dt", 2), per_head(A, "A", 1), B.contiguous(), C.contiguous(), per_head(D, "D", 1),
        dt_bias=per_head(dt_bias, "dt_bias", 1), dt_softplus=True, state_batch_indices=state_batch_indices.to(torch.int32),
    )
    return output, new_state
