"""GPU set-up inside the worker, done before any untrusted code runs.

FlashInfer builds its kernels on first use (JIT: files written, a compiler started) and
torch loads CUDA libraries lazily. Both would be refused once the worker forbids file
writes and processes, so the worker first runs every FlashInfer binding its jobs need
on a small case, and warms up the torch operations references use; only then does it
lock itself down and load reference code.
"""

from __future__ import annotations

from typing import Any

import torch

from tools.verification.bindings import binding_named
from tools.verification.case import Case
from tools.verification.inputs import make_inputs


def configure_cuda() -> None:
    """Full-precision reductions for references: their matmuls are the yardstick."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
    torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
    torch.backends.cudnn.allow_tf32 = False


def warm_up_cuda(device: str) -> None:
    """Run once the torch CUDA operations references are made of, loading their libraries."""
    x = torch.randn(64, 64, device=device)
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        y = x.to(dtype)
        (y @ y).sum()
        torch.einsum("ij,kj->ik", y, y)
        torch.nn.functional.scaled_dot_product_attention(y[None, None], y[None, None], y[None, None], is_causal=True)
    probs = torch.softmax(x, dim=-1)
    torch.multinomial(probs, 1)
    torch.logsumexp(x, dim=-1)
    torch.sort(x, dim=-1, descending=True)
    torch.argsort(x, dim=-1)
    torch.topk(x, 4, dim=-1)
    torch.cumsum(x, dim=-1)
    torch.searchsorted(torch.sort(x).values, x)
    torch.bincount(torch.randint(0, 64, (64,), device=device), minlength=64)
    torch.rsqrt(x.abs() + 1)
    torch.cuda.synchronize()


def prepare_binding(job: dict[str, Any]) -> None:
    """Build (JIT) the FlashInfer binding a compare job uses and run it once, on its first
    case, or on every case for kernels compiled per shape (`Binding.prepare_all_cases`)."""
    definition = job["definition"]
    binding = binding_named(job["expected"]["binding"], job["expected"].get("values"))
    run = binding.load()
    cases = job["cases"] if binding.prepare_all_cases else job["cases"][:1]
    for case in cases:
        inputs = make_inputs(definition, Case(**case), device=job.get("device", "cuda"), seed=job.get("seed", 0))
        with torch.no_grad():
            run(*inputs)
        del inputs
    torch.cuda.synchronize()
