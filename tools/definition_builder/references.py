"""Plain-PyTorch references for kernels no FlashInfer trace template describes.

Each function is the `run` of a hand-written definition: step by step, float32 math,
outputs in the declared dtypes. Their source text becomes the definition's `reference`
(the functions are defined here so that they are also importable and tested).
"""

from __future__ import annotations

import math

import torch


@torch.no_grad()
def mla_ragged_prefill_causal(q, k, v, qo_indptr, kv_indptr, sm_scale):
    """MLA prefill before weight absorption: per-head q/k of qk_dim, v of vo_dim.

    Causal within each sequence, aligned to the end: query i of a sequence with
    n_q queries and n_kv keys sees keys 0 .. n_kv - n_q + i. Returns the output and
    the base-2 log-sum-exp of the scaled logits.
    """
    total_q, num_heads, _ = q.shape
    vo_dim = v.shape[-1]
    output = torch.zeros((total_q, num_heads, vo_dim), dtype=torch.bfloat16, device=q.device)
    lse = torch.full((total_q, num_heads), -float("inf"), dtype=torch.float32, device=q.device)
    for b in range(qo_indptr.shape[0] - 1):
        q_start, q_end = int(qo_indptr[b]), int(qo_indptr[b + 1])
        kv_start, kv_end = int(kv_indptr[b]), int(kv_indptr[b + 1])
        if q_start == q_end or kv_start == kv_end:
            continue
        qb = q[q_start:q_end].to(torch.float32)  # [n_q, H, Dqk]
        kb = k[kv_start:kv_end].to(torch.float32)  # [n_kv, H, Dqk]
        vb = v[kv_start:kv_end].to(torch.float32)  # [n_kv, H, Dvo]
        n_q, n_kv = qb.shape[0], kb.shape[0]
        logits = torch.einsum("qhd,khd->hqk", qb, kb) * sm_scale  # [H, n_q, n_kv]
        visible = torch.arange(n_kv, device=q.device)[None, :] <= (n_kv - n_q + torch.arange(n_q, device=q.device))[:, None]
        logits = logits.masked_fill(~visible[None], -float("inf"))
        lse[q_start:q_end] = (torch.logsumexp(logits, dim=-1) / math.log(2.0)).transpose(0, 1)
        probs = torch.softmax(logits, dim=-1)
        output[q_start:q_end] = torch.einsum("hqk,khd->qhd", probs, vb).to(torch.bfloat16)
    return output, lse


@torch.no_grad()
def dsa_topk_indexer(q_index_fp8, k_index_cache_fp8, weights, seq_lens, block_table):
    """DeepSeek Sparse Attention indexer: the top-k KV slots for each query token.

    The key cache uses the packed FP8 layout: per page, page_size * head_dim fp8
    bytes followed by page_size float32 scales. A token's score is the weighted sum
    over index heads of relu(q_h . k): score = sum_h weights[h] * relu(q_h . k_pos).
    Returns, per sequence, the global slots (page * page_size + offset) of its
    highest-scoring positions, best first, padded with -1.
    """
    num_pages, page_size, _, row_bytes = k_index_cache_fp8.shape
    head_dim = row_bytes - 4
    topk = TOPK
    packed = k_index_cache_fp8.view(torch.uint8).reshape(num_pages, page_size * row_bytes)
    k_fp8 = packed[:, : page_size * head_dim].contiguous().view(torch.float8_e4m3fn).reshape(num_pages, page_size, head_dim)
    scales = packed[:, page_size * head_dim :].contiguous().view(torch.float32).reshape(num_pages, page_size)
    keys = k_fp8.to(torch.float32) * scales[..., None]  # [num_pages, page_size, head_dim]
    batch_size = q_index_fp8.shape[0]
    result = torch.full((batch_size, topk), -1, dtype=torch.int32, device=q_index_fp8.device)
    for b in range(batch_size):
        length = int(seq_lens[b])
        if length == 0:
            continue
        positions = torch.arange(length, device=q_index_fp8.device)
        pages = block_table[b, positions // page_size].to(torch.int64)
        slots = pages * page_size + positions % page_size
        k_b = keys[pages, positions % page_size]  # [length, head_dim]
        per_head = torch.relu(q_index_fp8[b].to(torch.float32) @ k_b.T)  # [heads, length]
        scores = (per_head * weights[b].to(torch.float32)[:, None]).sum(dim=0)  # [length]
        count = min(topk, length)
        best = torch.topk(scores, count).indices
        result[b, :count] = slots[best].to(torch.int32)
    return result


# The indexer's top-k is a constant of the definition; the builder substitutes it.
TOPK = 2048


@torch.no_grad()
def rope_with_cos_sin_cache(q, k, cos_sin_cache, positions):
    """Rotary position embedding with a precomputed cache, applied to q and k.

    Row p of `cos_sin_cache` holds cos(p * f_i) in its first ROTARY_DIM / 2 columns and
    sin(p * f_i) in the rest. Each head rotates its first ROTARY_DIM channels by the row
    of its token's position; the other HEAD_SIZE - ROTARY_DIM channels pass unchanged.
    NeoX style pairs channel i with channel i + ROTARY_DIM / 2; GPT-J style pairs channel
    2i with 2i + 1. Pair i turns by angle p * f_i. Math in float32, outputs in the inputs'
    dtype. (FlashInfer's API rotates q and k in place; here they are returned.)
    """
    assert q.shape[-1] == HEAD_SIZE and k.shape[-1] == HEAD_SIZE
    assert cos_sin_cache.shape[-1] == ROTARY_DIM
    half = ROTARY_DIM // 2
    rows = cos_sin_cache[positions.to(torch.long)].to(torch.float32)  # [num_tokens, rotary_dim]
    cos = rows[:, :half].unsqueeze(1)  # [num_tokens, 1, half]: the same angles for every head
    sin = rows[:, half:].unsqueeze(1)
    rotated = []
    for x in (q, k):
        x32 = x.to(torch.float32)
        turning, passing = x32[..., :ROTARY_DIM], x32[..., ROTARY_DIM:]
        if NEOX_STYLE:
            first, second = turning[..., :half], turning[..., half:]
        else:
            first, second = turning[..., 0::2], turning[..., 1::2]
        new_first = first * cos - second * sin
        new_second = second * cos + first * sin
        if NEOX_STYLE:
            turned = torch.cat([new_first, new_second], dim=-1)
        else:
            turned = torch.stack([new_first, new_second], dim=-1).flatten(-2)  # back to 2i, 2i + 1
        rotated.append(torch.cat([turned, passing], dim=-1).to(x.dtype))
    return rotated[0], rotated[1]


# The rope definition's constants; the builder substitutes them.
HEAD_SIZE = 128
ROTARY_DIM = 128
NEOX_STYLE = True


@torch.no_grad()
def gemm(A, B):
    """C = A @ B.T with B stored as nn.Linear stores its weight, [N, K]; float32
    accumulation, the result in the inputs' dtype (the dataset's GEMMs: float16)."""
    return (A.to(torch.float32) @ B.to(torch.float32).T).to(A.dtype)


@torch.no_grad()
def gdn_mtp(q, k, v, initial_state, initial_state_indices, A_log, a, dt_bias, b, scale, intermediate_states_buffer):
    """Gated Delta Net over T > 1 tokens per sequence (speculative verification).

    Each batch row b starts from the pooled state initial_state[initial_state_indices[b]]
    (k-last: [num_v_heads, V, K]; a negative index is padding: the row is skipped) and runs
    the gated delta rule token by token, q/k heads repeated over the value heads:
        g = exp(-exp(A_log) * softplus(a + dt_bias)),  beta = sigmoid(b)
        S = g * S;  S = S + k^T (beta * (v - k S))  (S as [K, V]);  o = scale * q S
    scale None or 0 means 1 / sqrt(head_size). The state after token t is written to
    intermediate_states_buffer[b, t] (per batch row, as FlashInfer's kernel writes it);
    the pool is not updated (SGLang verifies with disable_state_update=True), so
    final_state is the initial pool.
    """
    batch_size, steps, num_q_heads, head_size = q.shape
    num_v_heads = v.shape[2]
    if scale is None or scale == 0.0:
        scale = 1.0 / math.sqrt(head_size)
    g = torch.exp(-torch.exp(A_log.to(torch.float32)) * torch.nn.functional.softplus(a.to(torch.float32) + dt_bias.to(torch.float32)))
    beta = torch.sigmoid(b.to(torch.float32))
    q_v = q.to(torch.float32).repeat_interleave(num_v_heads // num_q_heads, dim=2)
    k_v = k.to(torch.float32).repeat_interleave(num_v_heads // k.shape[2], dim=2)
    output = torch.zeros((batch_size, steps, num_v_heads, head_size), dtype=torch.bfloat16, device=q.device)
    for row in range(batch_size):
        slot = int(initial_state_indices[row])
        if slot < 0:
            continue
        state = initial_state[slot].to(torch.float32).transpose(-1, -2).clone()  # [HV, K, V]
        for t in range(steps):
            state = g[row, t][:, None, None] * state
            k_t, v_t = k_v[row, t], v[row, t].to(torch.float32)  # [HV, K], [HV, V]
            error = v_t - torch.einsum("hk,hkv->hv", k_t, state)
            state = state + torch.einsum("hk,hv->hkv", k_t, beta[row, t][:, None] * error)
            output[row, t] = (scale * torch.einsum("hk,hkv->hv", q_v[row, t], state)).to(torch.bfloat16)
            if intermediate_states_buffer is not None:
                intermediate_states_buffer[row, t] = state.transpose(-1, -2)
    return output, initial_state.clone()
