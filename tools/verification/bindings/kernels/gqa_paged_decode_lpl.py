"""FlashInfer baseline for `gqa_paged_decode_*` definitions that take `kv_last_page_len` (page size > 1):
`flashinfer.decode.BatchDecodeWithPagedKVCacheWrapper` (plan, then run with the 2-based LSE).

A sequence holds its pages' tokens, the last page only its first `kv_last_page_len` ones.
plan() runs on every call, so its cost is part of the measured time.
"""

import flashinfer
import torch

WORKSPACE_BYTES = 128 * 1024 * 1024
_wrappers = {}  # one wrapper and workspace per device, as FlashInfer recommends


def _wrapper(device):
    if device not in _wrappers:
        workspace = torch.zeros(WORKSPACE_BYTES, dtype=torch.uint8, device=device)
        _wrappers[device] = flashinfer.decode.BatchDecodeWithPagedKVCacheWrapper(workspace, kv_layout="NHD")
    return _wrappers[device]


def run(q, k_cache, v_cache, kv_indptr, kv_indices, kv_last_page_len, sm_scale):
    batch_size, num_qo_heads, head_dim = q.shape
    _, page_size, num_kv_heads, _ = k_cache.shape
    wrapper = _wrapper(q.device)
    wrapper.plan(
        kv_indptr,
        kv_indices,
        kv_last_page_len[:batch_size].to(torch.int32),
        num_qo_heads,
        num_kv_heads,
        head_dim,
        page_size,
        sm_scale=float(sm_scale),
        q_data_type=q.dtype,
        kv_data_type=k_cache.dtype,
    )
    output, lse = wrapper.run(q, (k_cache, v_cache), return_lse=True)
    return output, lse
