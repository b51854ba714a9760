"""FlashInfer baseline for `dsa_sparse_attention_*` definitions on Hopper (SM90):
`flashinfer.mla.BatchMLAPagedAttentionWrapper` at page size 1, one request per query token.

DeepSeek V3.2's sparse attention is MLA over the KV slots a token's indexer selected. The
definitions name `trtllm_batch_decode_with_kv_cache_mla` (its sparse mode runs on SM100/SM120
only); the paged MLA kernel computes the same attention when the cache is viewed one slot
per page ([pages * page_size, 1, dim]) and each token's KV list is its valid slots
(`sparse_indices` != -1, global slot = page * page_size + offset). A token with no valid
slot gets output 0 and LSE -inf from the kernel itself. LSE in base 2. plan() runs on every
call, so its cost is part of the measured time.
"""

import flashinfer
import torch

WORKSPACE_BYTES = 128 * 1024 * 1024
_wrappers = {}  # one wrapper and workspace per device, as FlashInfer recommends


def _wrapper(device):
    if device not in _wrappers:
        workspace = torch.zeros(WORKSPACE_BYTES, dtype=torch.uint8, device=device)
        _wrappers[device] = flashinfer.mla.BatchMLAPagedAttentionWrapper(workspace)
    return _wrappers[device]


def slot_lists(sparse_indices):
    """Per token, its valid slots as a CSR: (indptr int32 [T + 1], indices int32, counts int32 [T])."""
    valid = sparse_indices != -1
    counts = valid.sum(dim=1).to(torch.int32)
    indptr = torch.zeros(sparse_indices.shape[0] + 1, dtype=torch.int32, device=sparse_indices.device)
    indptr[1:] = torch.cumsum(counts, 0)
    return indptr, sparse_indices[valid].to(torch.int32), counts


def run(q_nope, q_pe, ckv_cache, kpe_cache, sparse_indices, sm_scale):
    return sparse_attention(q_nope, q_pe, ckv_cache, kpe_cache, sparse_indices, sm_scale, _mla_paged)


def sparse_attention(q_nope, q_pe, ckv_cache, kpe_cache, sparse_indices, sm_scale, mla_paged):
    """`mla_paged(q_nope, q_pe, ckv, kpe, qo_indptr, kv_indptr, kv_indices, kv_len, sm_scale)`
    over the cache viewed one slot per page, one request per token."""
    kv_indptr, kv_indices, kv_len = slot_lists(sparse_indices)
    qo_indptr = torch.arange(q_nope.shape[0] + 1, dtype=torch.int32, device=q_nope.device)
    slots_ckv = ckv_cache.reshape(-1, 1, ckv_cache.shape[-1])
    slots_kpe = kpe_cache.reshape(-1, 1, kpe_cache.shape[-1])
    return mla_paged(q_nope, q_pe, slots_ckv, slots_kpe, qo_indptr, kv_indptr, kv_indices, kv_len, float(sm_scale))


def _mla_paged(q_nope, q_pe, ckv, kpe, qo_indptr, kv_indptr, kv_indices, kv_len, sm_scale):
    wrapper = _wrapper(q_nope.device)
    wrapper.plan(
        metadata=flashinfer.mla.MLAPlanMetadata.csr(qo_indptr, kv_indptr, kv_indices, kv_len),
        num_heads=q_nope.shape[1],
        head_dim_ckv=q_nope.shape[2],
        head_dim_kpe=q_pe.shape[2],
        page_size=1,
        causal=False,
        sm_scale=sm_scale,
        q_data_type=q_nope.dtype,
        kv_data_type=ckv.dtype,
        query_layout="split",
        kv_cache_layout="split",
        lse_mode="base2",
    )
    output, lse = wrapper.run(query=(q_nope, q_pe), kv_cache=(ckv, kpe), return_lse=True)
    return output, lse
