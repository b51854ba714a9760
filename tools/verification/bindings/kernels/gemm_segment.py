"""FlashInfer baseline for `gemm_n*_k*` definitions in the dataset's layout: C = A @ B.T with B the
[N, K] weight as nn.Linear stores it, float16 (or bfloat16): `flashinfer.gemm.SegmentGEMMWrapper`
with one segment and the weight column-major.

FlashInfer's dense GEMM `mm_bf16` takes no float16 inputs; the segment GEMM does, on any
GPU from SM80 (its `sm80` backend, the smaller JIT build; `sm90` computes the same).
"""

import flashinfer
import torch

WORKSPACE_BYTES = 128 * 1024 * 1024
BACKEND = "sm80"
_wrappers = {}  # one wrapper and workspace per device, as FlashInfer recommends


def _wrapper(device):
    if device not in _wrappers:
        workspace = torch.empty(WORKSPACE_BYTES, dtype=torch.uint8, device=device)
        _wrappers[device] = flashinfer.gemm.SegmentGEMMWrapper(workspace, backend=BACKEND)
    return _wrappers[device]


def run(A, B):
    return segment_gemm(A, B, _wrapper(A.device).run)


def segment_gemm(A, B, segment_run):
    """A @ B.T through `segment_run(x, weights, batch_size, weight_column_major, seg_lens=...)`."""
    seg_lens = torch.tensor([A.shape[0]], dtype=torch.int64, device=A.device)
    return segment_run(A.contiguous(), B.contiguous().unsqueeze(0), 1, True, seg_lens=seg_lens)
