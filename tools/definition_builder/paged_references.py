"""Paged attention references at page size > 1, with a partial last page.

FlashInfer's trace templates address whole pages only (every page of a sequence full);
the dataset's page-size-64 definitions add `kv_last_page_len`, the number of tokens in
each sequence's last page, as the kernels' plan() takes it. A sequence's tokens are its
full pages followed by the first `kv_last_page_len[b]` tokens of its last page.

Float32 math, outputs bf16 and the base-2 log-sum-exp of the scaled logits, as the
templates' references. The source text of these functions becomes the definitions'
`reference` (`sequence_tokens` is included with each).
"""

from __future__ import annotations

import math

import torch


def sequence_tokens(cache, kv_indptr, kv_indices, kv_last_page_len, b):
    """Sequence b's cached tokens, [tokens, ...]: full pages, then the used part of the last."""
    start, end = int(kv_indptr[b]), int(kv_indptr[b + 1])
    if start == end:
        return cache[:0].reshape(0, *cache.shape[2:])
    pages = kv_indices[start:end].to(torch.long)
    count = (end - start - 1) * cache.shape[1] + int(kv_last_page_len[b])
    return cache[pages].reshape(-1, *cache.shape[2:])[:count].to(torch.float32)


@torch.no_grad()
def gqa_paged_decode(q, k_cache, v_cache, kv_indptr, kv_indices, kv_last_page_len, sm_scale):
    """One query token per sequence attends to all of its cached tokens."""
    batch_size, num_qo_heads, head_dim = q.shape
    group = num_qo_heads // k_cache.shape[2]
    output = torch.zeros((batch_size, num_qo_heads, head_dim), dtype=torch.bfloat16, device=q.device)
    lse = torch.full((batch_size, num_qo_heads), -float("inf"), dtype=torch.float32, device=q.device)
    for b in range(batch_size):
        k = sequence_tokens(k_cache, kv_indptr, kv_indices, kv_last_page_len, b).repeat_interleave(group, dim=1)
        v = sequence_tokens(v_cache, kv_indptr, kv_indices, kv_last_page_len, b).repeat_interleave(group, dim=1)
        if k.shape[0] == 0:
            continue
        logits = torch.einsum("hd,khd->hk", q[b].to(torch.float32), k) * sm_scale
        lse[b] = torch.logsumexp(logits, dim=-1) / math.log(2.0)
        output[b] = torch.einsum("hk,khd->hd", torch.softmax(logits, dim=-1), v).to(torch.bfloat16)
    return output, lse


@torch.no_grad()
def gqa_paged_prefill(q, k_cache, v_cache, qo_indptr, kv_indptr, kv_indices, kv_last_page_len, sm_scale):
    """Causal prefill aligned to the end: of a sequence's n_q queries and n_kv cached
    tokens (the queries' own included), query i sees tokens 0 .. n_kv - n_q + i."""
    total_q, num_qo_heads, head_dim = q.shape
    group = num_qo_heads // k_cache.shape[2]
    output = torch.zeros((total_q, num_qo_heads, head_dim), dtype=torch.bfloat16, device=q.device)
    lse = torch.full((total_q, num_qo_heads), -float("inf"), dtype=torch.float32, device=q.device)
    for b in range(qo_indptr.shape[0] - 1):
        q_start, q_end = int(qo_indptr[b]), int(qo_indptr[b + 1])
        k = sequence_tokens(k_cache, kv_indptr, kv_indices, kv_last_page_len, b).repeat_interleave(group, dim=1)
        v = sequence_tokens(v_cache, kv_indptr, kv_indices, kv_last_page_len, b).repeat_interleave(group, dim=1)
        n_q, n_kv = q_end - q_start, k.shape[0]
        if n_q == 0 or n_kv == 0:
            continue
        logits = torch.einsum("qhd,khd->hqk", q[q_start:q_end].to(torch.float32), k) * sm_scale
        visible = torch.arange(n_kv, device=q.device)[None, :] <= (n_kv - n_q + torch.arange(n_q, device=q.device))[:, None]
        logits = logits.masked_fill(~visible[None], -float("inf"))
        lse[q_start:q_end] = (torch.logsumexp(logits, dim=-1) / math.log(2.0)).transpose(0, 1)
        output[q_start:q_end] = torch.einsum("hqk,khd->qhd", torch.softmax(logits, dim=-1), v).to(torch.bfloat16)
    return output, lse


@torch.no_grad()
def mla_paged_decode(q_nope, q_pe, ckv_cache, kpe_cache, kv_indptr, kv_indices, kv_last_page_len, sm_scale):
    """MLA over the latent cache: logits from both parts, values the latent (ckv) part."""
    batch_size, num_heads, head_dim_ckv = q_nope.shape
    output = torch.zeros((batch_size, num_heads, head_dim_ckv), dtype=torch.bfloat16, device=q_nope.device)
    lse = torch.full((batch_size, num_heads), -float("inf"), dtype=torch.float32, device=q_nope.device)
    for b in range(batch_size):
        ckv = sequence_tokens(ckv_cache, kv_indptr, kv_indices, kv_last_page_len, b)  # [n_kv, head_dim_ckv]
        kpe = sequence_tokens(kpe_cache, kv_indptr, kv_indices, kv_last_page_len, b)
        if ckv.shape[0] == 0:
            continue
        logits = (q_nope[b].to(torch.float32) @ ckv.T + q_pe[b].to(torch.float32) @ kpe.T) * sm_scale  # [H, n_kv]
        lse[b] = torch.logsumexp(logits, dim=-1) / math.log(2.0)
        output[b] = (torch.softmax(logits, dim=-1) @ ckv).to(torch.bfloat16)
    return output, lse


@torch.no_grad()
def mla_paged_prefill(q_nope, q_pe, ckv_cache, kpe_cache, qo_indptr, kv_indptr, kv_indices, kv_last_page_len, sm_scale):
    """Causal MLA prefill over the latent cache, aligned to the end of each sequence."""
    total_q, num_heads, head_dim_ckv = q_nope.shape
    output = torch.zeros((total_q, num_heads, head_dim_ckv), dtype=torch.bfloat16, device=q_nope.device)
    lse = torch.full((total_q, num_heads), -float("inf"), dtype=torch.float32, device=q_nope.device)
    for b in range(qo_indptr.shape[0] - 1):
        q_start, q_end = int(qo_indptr[b]), int(qo_indptr[b + 1])
        ckv = sequence_tokens(ckv_cache, kv_indptr, kv_indices, kv_last_page_len, b)
        kpe = sequence_tokens(kpe_cache, kv_indptr, kv_indices, kv_last_page_len, b)
        n_q, n_kv = q_end - q_start, ckv.shape[0]
        if n_q == 0 or n_kv == 0:
            continue
        qn, qp = q_nope[q_start:q_end].to(torch.float32), q_pe[q_start:q_end].to(torch.float32)
        logits = (torch.einsum("qhd,kd->hqk", qn, ckv) + torch.einsum("qhd,kd->hqk", qp, kpe)) * sm_scale
        visible = torch.arange(n_kv, device=q_nope.device)[None, :] <= (n_kv - n_q + torch.arange(n_q, device=q_nope.device))[:, None]
        logits = logits.masked_fill(~visible[None], -float("inf"))
        lse[q_start:q_end] = (torch.logsumexp(logits, dim=-1) / math.log(2.0)).transpose(0, 1)
        output[q_start:q_end] = torch.einsum("hqk,kd->qhd", torch.softmax(logits, dim=-1), ckv).to(torch.bfloat16)
    return output, lse
