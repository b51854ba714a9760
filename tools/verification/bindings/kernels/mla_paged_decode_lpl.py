"""FlashInfer baseline for `mla_paged_decode_*` definitions that take `kv_last_page_len` (page size > 1):
`flashinfer.mla.BatchMLAPagedAttentionWrapper` on the split query (q_nope, q_pe) and split cache
(ckv_cache, kpe_cache), with the 2-based LSE.

One query token per sequence; a sequence's KV length is its full pages plus the tokens of
its last page. plan() runs on every call, so its cost is part of the measured time.
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


def run(q_nope, q_pe, ckv_cache, kpe_cache, kv_indptr, kv_indices, kv_last_page_len, sm_scale):
    batch_size, num_heads, head_dim_ckv = q_nope.shape
    _, page_size, head_dim_kpe = kpe_cache.shape
    qo_indptr = torch.arange(batch_size + 1, dtype=torch.int32, device=q_nope.device)
    pages = kv_indptr[1:] - kv_indptr[:-1]
    kv_len = ((pages - 1).clamp(min=0) * page_size + torch.where(pages > 0, kv_last_page_len[:batch_size], 0)).to(torch.int32)
    wrapper = _wrapper(q_nope.device)
    wrapper.plan(
        metadata=flashinfer.mla.MLAPlanMetadata.csr(qo_indptr, kv_indptr, kv_indices, kv_len),
        num_heads=num_heads,
        head_dim_ckv=head_dim_ckv,
        head_dim_kpe=head_dim_kpe,
        page_size=page_size,
        causal=False,
        sm_scale=float(sm_scale),
        q_data_type=q_nope.dtype,
        kv_data_type=ckv_cache.dtype,
        query_layout="split",
        kv_cache_layout="split",
        lse_mode="base2",
    )
    output, lse = wrapper.run(query=(q_nope, q_pe), kv_cache=(ckv_cache, kpe_cache), return_lse=True)
    return output, lse
