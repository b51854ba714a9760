"""FlashInfer baseline for `gqa_paged_prefill_causal_*` definitions that take `kv_last_page_len`
(page size > 1): `flashinfer.prefill.BatchPrefillWithPagedKVCacheWrapper` (causal plan, then run
with the 2-based LSE).

A sequence holds its pages' tokens, the last page only its first `kv_last_page_len` ones
(the dataset sizes that input by `batch_size` or by `len_indptr`: the first batch_size
entries are read). plan() runs on every call, so its cost is part of the measured time.
"""

import flashinfer
import torch

WORKSPACE_BYTES = 128 * 1024 * 1024
_wrappers = {}  # one wrapper and workspace per device, as FlashInfer recommends


def _wrapper(device):
    if device not in _wrappers:
        workspace = torch.zeros(WORKSPACE_BYTES, dtype=torch.uint8, device=device)
        _wrappers[device] = flashinfer.prefill.BatchPrefillWithPagedKVCacheWrapper(workspace, kv_layout="NHD")
    return _wrappers[device]


def run(q, k_cache, v_cache, qo_indptr, kv_indptr, kv_indices, kv_last_page_len, sm_scale):
    _, num_qo_heads, head_dim = q.shape
    _, page_size, num_kv_heads, _ = k_cache.shape
    batch_size = qo_indptr.shape[0] - 1
    wrapper = _wrapper(q.device)
    wrapper.plan(
        qo_indptr,
        kv_indptr,
        kv_indices,
        kv_last_page_len[:batch_size].to(torch.int32),
        num_qo_heads,
        num_kv_heads,
        head_dim,
        page_size,
        causal=True,
        sm_scale=float(sm_scale),
        q_data_type=q.dtype,
        kv_data_type=k_cache.dtype,
    )
    output, lse = wrapper.run(q, (k_cache, v_cache), return_lse=True, lse_base="log2")
    return output, lse
