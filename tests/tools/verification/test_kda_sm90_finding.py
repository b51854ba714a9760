"""Why FlashInfer's KDA prefill disagreed with its reference on the H200 (issue 15's probe).

On 2026-11-29 `benchmarks/h200_probe.py` ran `flashinfer.kda.recurrent_kda` on packed
sequences of 5, 3 and 1 tokens (cu_seqlens, beta_is_logit) and measured, against its
reference: output max abs error 0.01418 of max 0.019402 (ratio 0.730831), state pool
0.378906 of 0.435547 (0.869955). Exactly those numbers come out of a kernel that runs only
the first token of each sequence and leaves the other outputs zero: on SM90 FlashInfer
0.7.2 sends multi-token calls to its decode kernel, which reads one token per sequence.
The reference is right; the binding runs the decode kernel token by token instead.
"""

import importlib.util
import math
from pathlib import Path

import torch

PROBE = Path(__file__).resolve().parents[3] / "benchmarks" / "h200_probe.py"
MEASURED = {"output": (0.01418, 0.019402, 0.730831), "state_pool": (0.378906, 0.435547, 0.869955)}


def probe_module():
    spec = importlib.util.spec_from_file_location("h200_probe", PROBE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_probes_kda_prefill_error_is_a_kernel_that_runs_one_token_per_sequence():
    probe = probe_module()
    bf16 = torch.bfloat16
    # The probe's own inputs: same seed, same draws in the same order (probe_kda).
    gen = torch.Generator().manual_seed(8)
    h, hv, d, slots_n = 2, 4, 128, 5
    a_log = torch.log(torch.rand(h, generator=gen) * 15 + 1)
    dt_bias = torch.log(torch.expm1(torch.rand(h, d, generator=gen) * 0.099 + 0.001)).reshape(-1)
    pool = (torch.randn(slots_n, hv, d, d, generator=gen) * 0.1).to(bf16)
    q, k = (torch.randn(1, 9, h, d, generator=gen).to(bf16) for _ in range(2))
    v = (torch.randn(1, 9, hv, d, generator=gen) * 0.5).to(bf16)
    g = torch.randn(1, 9, hv, d, generator=gen).to(bf16)
    beta = torch.sigmoid(torch.randn(1, 9, hv, generator=gen).to(bf16).float())
    starts, lengths, slots = [0, 5, 8], [5, 3, 1], torch.tensor([3, 0, 4])
    scale = 1 / math.sqrt(d)

    whole = [(0, slice(s, s + n)) for s, n in zip(starts, lengths)]
    first_token_only = [(0, slice(s, s + 1)) for s in starts]
    ref_out, ref_pool = probe.kda_reference(q, k, v, g, beta, a_log, dt_bias, scale, pool, slots, whole)
    one_out, one_pool = probe.kda_reference(q, k, v, g, beta, a_log, dt_bias, scale, pool, slots, first_token_only)

    for name, got, ref in (("output", one_out, ref_out), ("state_pool", one_pool, ref_pool)):
        errors = probe.errors(got, ref)
        assert (errors["max_abs_err"], errors["max_abs_ref"], errors["max_err_over_max_ref"]) == MEASURED[name]
