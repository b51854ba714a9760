"""Rotary position embedding with a precomputed cos/sin cache (SGLang's RotaryEmbedding).

On CUDA, SGLang's `RotaryEmbedding.forward_cuda` (and every subclass that only changes
how the cache is computed: Llama 3, linear, dynamic NTK, YaRN, DeepSeek YaRN) rotates
q and k in place with `apply_rope_with_cos_sin_cache_inplace`: SGLang 0.5.23's own JIT
kernel under the name of, and with the semantics of, FlashInfer's
`flashinfer.rope.apply_rope_with_cos_sin_cache_inplace`.

Written here rather than traced from FlashInfer's `rope_cos_sin_cache_inplace` template,
whose schema the dataset does not use: the template flattens q and k to
[nnz, heads * head_size] with the head-count products as constant axes (one definition
per head count and TP), takes `head_size` and `is_neox` as run-time inputs and names its
in-place outputs after the inputs. The dataset's definitions
(`rope_with_cos_sin_cache_neox_style_d128_rd64`) take [tokens, heads, head_size] q and k
with the head counts variable, fix the head size, the rotary dimension and the rotation
style in the name, take int64 positions and return `q_out` and `k_out`. The template is
kept as the check: same API, and its reference agrees with this one
(tests/tools/test_rope_family.py).
"""

from __future__ import annotations

from typing import Any

from tools.definition_builder import references
from tools.definition_builder.families.common import Family, reference_source
from tools.errors import DefinitionError
from tools.kernel_spec import KernelSpec

API = "flashinfer.rope.apply_rope_with_cos_sin_cache_inplace"


def style(is_neox: bool) -> str:
    """The style word of the dataset's names: NeoX pairs halves, GPT-J pairs neighbours."""
    return "neox" if is_neox else "gptj"


def rope_name(head_size: int, rotary_dim: int, is_neox: bool) -> str:
    return f"rope_with_cos_sin_cache_{style(is_neox)}_style_d{head_size}_rd{rotary_dim}"


def _rope_with_cos_sin_cache(spec: KernelSpec) -> dict[str, Any]:
    head, rotary = spec.axes["head_size"], spec.axes["rotary_dim"]
    is_neox = spec.options.get("is_neox")
    if not isinstance(is_neox, bool):
        raise DefinitionError(f"rope_with_cos_sin_cache needs option is_neox (True or False), got {is_neox!r}.")
    if not 0 < rotary <= head or rotary % 2:
        raise DefinitionError(f"rotary_dim {rotary} must be even and within head_size {head}.")
    pairs = (
        "channel i with channel i + rotary_dim/2 (NeoX style)" if is_neox else "channel 2i with channel 2i+1 (GPT-J style)"
    )
    partial = f"; the other {head - rotary} pass unchanged" if rotary < head else ""
    prelude = f"HEAD_SIZE = {head}\nROTARY_DIM = {rotary}\nNEOX_STYLE = {is_neox}\n\n\n"
    dtype = spec.dtype  # q and k in the dtype SGLang serves the model in
    return {
        "name": rope_name(head, rotary, is_neox),
        "op_type": "rope",
        "description": (
            f"Rotary position embedding of q and k with a precomputed cos/sin cache, as SGLang's RotaryEmbedding "
            f"runs it on CUDA. head_size={head}, rotary_dim={rotary}: each head rotates its first {rotary} channels{partial}. "
            f"Pairs {pairs}, turned by the angle of the token's position. The FlashInfer API works in place; "
            f"the definition returns the rotated tensors."
        ),
        "tags": [f"fi_api:{API}"],
        "axes": {
            "num_tokens": {"type": "var", "description": "Tokens in the batch."},
            "num_qo_heads": {"type": "var", "description": "Query heads (per GPU)."},
            "num_kv_heads": {"type": "var", "description": "Key heads (per GPU)."},
            "head_size": {"type": "const", "value": head, "description": "Head dimension."},
            "rotary_dim": {"type": "const", "value": rotary, "description": f"Channels rotated per head ({rotary} of {head})."},
            "max_seq_len": {"type": "var", "description": "Positions the cos/sin cache covers."},
        },
        "inputs": {
            "q": {"shape": ["num_tokens", "num_qo_heads", "head_size"], "dtype": dtype, "description": "Queries."},
            "k": {"shape": ["num_tokens", "num_kv_heads", "head_size"], "dtype": dtype, "description": "Keys."},
            "cos_sin_cache": {
                "shape": ["max_seq_len", "rotary_dim"],
                "dtype": "float32",
                "description": "Row p: cos of position p's angles in the first rotary_dim/2 columns, their sin in the rest.",
            },
            "positions": {"shape": ["num_tokens"], "dtype": "int64", "description": "Each token's position: its row of cos_sin_cache."},
        },
        "outputs": {
            "q_out": {"shape": ["num_tokens", "num_qo_heads", "head_size"], "dtype": dtype, "description": "Rotated queries."},
            "k_out": {"shape": ["num_tokens", "num_kv_heads", "head_size"], "dtype": dtype, "description": "Rotated keys."},
        },
        "reference": reference_source(references.rope_with_cos_sin_cache, prelude=prelude),
    }


FAMILIES = (
    Family(
        "rope_with_cos_sin_cache",
        ("head_size", "rotary_dim"),
        _rope_with_cos_sin_cache,
        "RoPE with a precomputed cos/sin cache (NeoX or GPT-J pairs, full or partial rotary dim)",
        reference_name="rope_with_cos_sin_cache",
        handwritten=True,
    ),
)
