"""FP8 block-scaled expert weights at any expert count, cheaply.

A MoE definition fixes its expert count and sizes (Kimi K2: 384 experts of 7168 x 4096 and
2048 x 7168, 17 GB in FP8); drawing and quantising that many random values would take
minutes per case. Only the experts a token picks matter, and they must differ from each
other, so that a reference routing to the wrong expert gives a wrong output: every expert
here is one of a few random matrices (the bank) under its own random per-block scales,
within a factor of two of the bank's, so no two experts compute the same product.
"""

from __future__ import annotations

import math

import torch

from tools.verification.family_inputs import BLOCK, quantize_fp8_blocks

BANK_SIZE = 2


def expert_weights(experts: int, rows: int, cols: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """FP8 values [experts, rows, cols] (variance 1/cols after scaling) and float32 scales
    [experts, rows / 128, cols / 128]."""
    bank, bank_scales = quantize_fp8_blocks(torch.randn(min(BANK_SIZE, experts), rows, cols, generator=gen) / math.sqrt(cols), (BLOCK, BLOCK))
    pick = torch.arange(experts) % bank.shape[0]
    values = bank.view(torch.uint8)[pick].view(torch.float8_e4m3fn)
    spread = torch.exp2(torch.rand(experts, rows // BLOCK, cols // BLOCK, generator=gen) * 2 - 1)
    return values, (bank_scales[pick] * spread).contiguous()
