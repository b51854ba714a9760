"""FlashInfer baseline for `top_k_top_p_sampling_from_probs_v*`:
`flashinfer.sampling.top_k_top_p_sampling_from_probs`, top-k applied first (the definition's order).

FlashInfer returns int32 token ids; the definition declares int64.
"""

import flashinfer
import torch


def run(probs, top_k, top_p):
    samples = flashinfer.sampling.top_k_top_p_sampling_from_probs(probs, top_k, top_p, filter_apply_order="top_k_first")
    return samples.to(torch.int64)
