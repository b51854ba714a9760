"""FlashInfer baseline for ragged causal prefill definitions (`gqa_ragged_prefill_causal_*`, and
`mla_ragged_prefill_causal_*` whose QK and VO head dims differ):
`flashinfer.prefill.BatchPrefillWithRaggedKVCacheWrapper` (causal plan, then run with the 2-based LSE).

plan() runs on every call, so its cost is part of the measured time.
"""

import flashinfer
import torch

WORKSPACE_BYTES = 128 * 1024 * 1024
_wrappers = {}  # one wrapper and workspace per device, as FlashInfer recommends


def _wrapper(device):
    if device not in _wrappers:
        workspace = torch.zeros(WORKSPACE_BYTES, dtype=torch.uint8, device=device)
        _wrappers[device] = flashinfer.prefill.BatchPrefillWithRaggedKVCacheWrapper(workspace, kv_layout="NHD")
    return _wrappers[device]


def run(q, k, v, qo_indptr, kv_indptr, sm_scale):
    _, num_qo_heads, head_dim_qk = q.shape
    _, num_kv_heads, head_dim_vo = v.shape
    wrapper = _wrapper(q.device)
    wrapper.plan(
        qo_indptr,
        kv_indptr,
        num_qo_heads,
        num_kv_heads,
        head_dim_qk,
        head_dim_vo=head_dim_vo,
        causal=True,
        sm_scale=float(sm_scale),
        q_data_type=q.dtype,
        kv_data_type=k.dtype,
    )
    output, lse = wrapper.run(q, k, v, return_lse=True, lse_base="log2")
    return output, lse
