"""FlashInfer baseline for `gemm_fp8_nt_groupwise_*` definitions on Hopper (SM90):
`flashinfer.gemm.fp8_blockscale_gemm_sm90`, C = (a * a_scale) @ (b * b_scale).T in bf16.

The definitions name `gemm_fp8_nt_groupwise`, which FlashInfer 0.7.2 runs on SM100+ only;
the SM90 block-scale GEMM computes the same product. Its W8A8 mode reads the activation
scales MN-major, [K/128, M rounded up to 4] (the layout its TMA descriptors and its own
quantizer use; the row-major [M, K/128] the docstring shows gives wrong results, measured
on an H200), so a_scale is transposed and padded; b_scale [N/128, K/128] is passed as is.
Needs N % 64 == 0 and K % 128 == 0.
"""

import flashinfer
import torch

BLOCK = 128


def run(a, b, a_scale, b_scale):
    return blockscale_gemm(a, b, a_scale, b_scale, flashinfer.gemm.fp8_blockscale_gemm_sm90)


def mn_major(a_scale):
    """[M, K/128] row-major per-token scales -> [K/128, round_up(M, 4)], zero padded."""
    m, k_blocks = a_scale.shape
    padded = torch.zeros(k_blocks, -(-m // 4) * 4, dtype=torch.float32, device=a_scale.device)
    padded[:, :m] = a_scale.to(torch.float32).T
    return padded


def blockscale_gemm(a, b, a_scale, b_scale, gemm):
    return gemm(a.contiguous(), b.contiguous(), mn_major(a_scale), b_scale.to(torch.float32).contiguous(), out_dtype=torch.bfloat16)
