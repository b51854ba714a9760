"""Plain-PyTorch references for Kimi Delta Attention (KDA), as SGLang calls FlashInfer.

FlashInfer 0.7.2's KDA trace templates (`flashinfer/trace/templates/kda.py`) describe the
API's tensors but carry no reference, so the definitions' `run` is written here. It
computes what SGLang asks of `recurrent_kda` for Kimi Linear
(`layers/attention/linear/kernels/kda_flashinfer*.py`): the raw gate is activated in the
kernel (`use_gate_in_kernel=True`, no lower bound), q and k are L2-normalised in the
kernel, the scale defaults to 1/sqrt(head_dim), and the recurrent state is a bf16 pool
`[slots, HV, V, K]` (k-last) read and written at each sequence's slot.

Per value head, with the state S stored as [V, K] and every step in float32:

    decay = exp(-exp(A_log) * softplus(g + dt_bias))     one factor per key channel
    S     = S * decay                                    (scales S's K columns)
    S     = S + beta * outer(v - S @ k, k)               the delta rule
    o     = S @ (scale * q)

Gate parameters follow FlashInfer's kernel: `A_log` is per query head and `dt_bias` per
query head and key channel; a value head uses those of its query head (value head h
reads query/key head h // (HV / H)).

Each function's source text becomes a definition's `reference` (`families/kda.py`):
`kda_sequence` and then the `run` of one stage.
"""

from __future__ import annotations

import math

import torch


@torch.no_grad()
def kda_sequence(q, k, v, g, beta, A_log, dt_bias, scale, state):
    """KDA over the tokens of one sequence.

    q, k: [T, H, K]; v: [T, HV, V]; g: [T, HV, K] raw gate; beta: [T, HV] update rate
    in (0, 1); A_log: [H]; dt_bias: [H, K]; state: [HV, V, K] float32.
    Returns the output [T, HV, V] and the final state [HV, V, K], both float32.
    """
    num_q_heads, num_v_heads = q.shape[1], v.shape[1]
    group = num_v_heads // num_q_heads
    q = q.float().repeat_interleave(group, dim=1)
    k = k.float().repeat_interleave(group, dim=1)
    q = q * torch.rsqrt(q.square().sum(dim=-1, keepdim=True) + 1e-6) * scale
    k = k * torch.rsqrt(k.square().sum(dim=-1, keepdim=True) + 1e-6)
    rate = torch.exp(A_log.float()).repeat_interleave(group)  # [HV]
    bias = dt_bias.float().repeat_interleave(group, dim=0)  # [HV, K]
    decay = torch.exp(-rate[None, :, None] * torch.nn.functional.softplus(g.float() + bias[None]))  # [T, HV, K]
    v = v.float()
    beta = beta.float()
    out = torch.zeros(v.shape, dtype=torch.float32, device=v.device)
    for t in range(q.shape[0]):
        state = state * decay[t][:, None, :]
        predicted = torch.einsum("hvk,hk->hv", state, k[t])
        correction = beta[t][:, None] * (v[t] - predicted)  # [HV, V]
        state = state + correction[:, :, None] * k[t][:, None, :]
        out[t] = torch.einsum("hvk,hk->hv", state, q[t])
    return out, state


@torch.no_grad()
def kda_prefill(q, k, v, g, beta, A_log, dt_bias, scale, initial_state, cu_seqlens, ssm_state_indices):
    """Packed prefill: q/k/v/g/beta hold every sequence's tokens in one row ([1, T, ...]),
    sequence n spans tokens cu_seqlens[n]:cu_seqlens[n+1] and starts from state slot
    ssm_state_indices[n], where its final state is written. beta is a logit (SGLang
    passes `beta_is_logit=True`). Returns the output and the updated state pool."""
    if scale is None or scale == 0.0:
        scale = 1.0 / math.sqrt(q.shape[-1])
    output = torch.zeros(v.shape, dtype=torch.bfloat16, device=q.device)
    final_state = initial_state.clone()
    beta = torch.sigmoid(beta.float())
    for n in range(ssm_state_indices.shape[0]):
        start, end, slot = int(cu_seqlens[n]), int(cu_seqlens[n + 1]), int(ssm_state_indices[n])
        if end <= start:
            continue
        tokens = slice(start, end)
        out, state = kda_sequence(
            q[0, tokens], k[0, tokens], v[0, tokens], g[0, tokens], beta[0, tokens], A_log, dt_bias, scale, initial_state[slot].float()
        )
        output[0, tokens] = out.to(torch.bfloat16)
        final_state[slot] = state.to(final_state.dtype)
    return output, final_state


@torch.no_grad()
def kda_decode(q, k, v, g, beta, A_log, dt_bias, scale, initial_state, ssm_state_indices):
    """One token per batch row ([B, 1, ...]); row b reads and writes state slot
    ssm_state_indices[b]. beta is already an update rate in (0, 1) (SGLang applies
    the sigmoid before the call). Returns the output and the updated state pool."""
    if scale is None or scale == 0.0:
        scale = 1.0 / math.sqrt(q.shape[-1])
    output = torch.zeros(v.shape, dtype=torch.bfloat16, device=q.device)
    final_state = initial_state.clone()
    for b in range(q.shape[0]):
        slot = int(ssm_state_indices[b])
        out, state = kda_sequence(q[b], k[b], v[b], g[b], beta[b], A_log, dt_bias, scale, initial_state[slot].float())
        output[b] = out.to(torch.bfloat16)
        final_state[slot] = state.to(final_state.dtype)
    return output, final_state
