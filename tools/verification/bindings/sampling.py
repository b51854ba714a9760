"""Sampling from probabilities with top-k and/or top-p filters.

No trace template check: the templates' default check compares draws element by element,
which says nothing about a sampler; the sampling family compares draw statistics instead.
"""

from tools.verification.bindings import Binding

BINDINGS = [
    Binding(
        name=api,
        build_seconds=85,
        fi_api=f"flashinfer.sampling.{api}",
        op_type="sampling",
        kernel=api,
        description=f"flashinfer.sampling.{api}, ids cast to int64",
    )
    for api in ("top_k_sampling_from_probs", "top_p_sampling_from_probs", "top_k_top_p_sampling_from_probs")
]
