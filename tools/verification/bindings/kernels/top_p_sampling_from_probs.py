"""FlashInfer baseline for `top_p_sampling_from_probs_v*`: `flashinfer.sampling.top_p_sampling_from_probs`.

FlashInfer returns int32 token ids; the definition declares int64.
"""

import flashinfer
import torch


def run(probs, top_p):
    return flashinfer.sampling.top_p_sampling_from_probs(probs, top_p).to(torch.int64)
