"""FlashInfer baseline for `rope_with_cos_sin_cache_neox_style_*` definitions:
`flashinfer.rope.apply_rope_with_cos_sin_cache_inplace` with is_neox=True: NeoX pairs (channel i with i + rotary_dim/2).

The API rotates q and k in place, flattened to [tokens, heads * head_size], by the rows
of the cache their positions pick (rotary_dim = the cache's width). The definition
returns the rotated tensors and leaves its inputs alone, so the call runs on copies.
"""

import flashinfer


def run(q, k, cos_sin_cache, positions):
    num_tokens, _, head_size = q.shape
    q_out, k_out = q.clone(), k.clone()
    flashinfer.rope.apply_rope_with_cos_sin_cache_inplace(
        positions, q_out.view(num_tokens, -1), k_out.view(num_tokens, -1), head_size, cos_sin_cache, is_neox=True
    )
    return q_out, k_out
