"""RoPE: the rotary class SGLang builds decides whether the cos/sin-cache kernel runs.

`get_rope` picks a RotaryEmbedding class from the model's `rope_scaling` (the parser runs
its body and records the class, `Component.builds`); a model may also build one directly.
On CUDA (SGLang 0.5.23, `srt/layers/rotary_embedding/`):

- `RotaryEmbedding.forward_cuda` rotates q and k in place with
  `apply_rope_with_cos_sin_cache_inplace` over the class's float32 `cos_sin_cache`, for
  head sizes 64, 128, 256 and 512; other head sizes take its fallback `rotary_embedding`
  kernel, which reads the cache in the activation dtype.
- The subclasses in CACHE_KERNEL_CLASSES only compute the cache differently (Llama 3,
  linear, dynamic NTK, YaRN, DeepSeek YaRN frequencies) and inherit that forward. The cache
  is an input of the definition, so they all run the same definition, named by head size,
  rotary dim and rotation style alone.
- The classes in OWN_FORWARD compute RoPE another way: pending, with the reason.

A call that passes `fused_set_kv_buffer_arg` (a keyword, or a key of the `**dict` the
call spreads: gpt-oss) runs RoPE fused with the KV-cache write, another kernel, when
SGLang's `enable_fused_set_kv_buffer` holds: on CUDA with a bf16 KV cache that is not a
sliding-window pool. The KV cache takes the model's dtype by default (`--kv-cache-dtype
auto`), so a model served in float16 keeps the separate rope kernel, as does one whose KV
cache SGLang keeps in a sliding-window pool (gpt-oss: hybrid SWA memory); otherwise it is
pending.

MLA (DeepSeek V2/V3, Kimi K2) rotates only the rope part of q and k (`q_pe`, `k_pe`:
head size = rotary dim = qk_rope_head_dim, GPT-J pairs) with the same call before its
attention kernels, which take the rotated parts as inputs: the rotation is a kernel of
its own, planned here like any other. DeepSeek V3.2's DSA indexer rotates its own q and
k the same way, with its own rotation style (`plan_indexer_rope`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.model_parser.inventory import Component

if TYPE_CHECKING:
    from tools.kernel_planner import Planner

FAMILY = "rope_with_cos_sin_cache"

CACHE_KERNEL_CLASSES = frozenset(
    {
        "RotaryEmbedding",
        "LinearScalingRotaryEmbedding",
        "Llama3RotaryEmbedding",
        "DynamicNTKScalingRotaryEmbedding",
        "DynamicNTKAlphaRotaryEmbedding",
        "YaRNScalingRotaryEmbedding",
        "DeepseekScalingRotaryEmbedding",
        "Gemma4RotaryEmbedding",
    }
)
"""RotaryEmbedding and the subclasses that inherit its CUDA forward (they override only
`_compute_inv_freq` / `_compute_cos_sin_cache`)."""

_MROPE = "multimodal RoPE: per-section positions, rotated by a Triton kernel (or in PyTorch for 1-D positions)"
OWN_FORWARD = {
    "MRotaryEmbedding": _MROPE,
    "YaRNScalingMRotaryEmbedding": _MROPE,
    "Ernie4_5_VLRotaryEmbedding": _MROPE,
    "BailingMRotaryEmbedding": "multimodal RoPE: a Triton kernel for 3-D positions",
    "Phi3LongRoPEScaledRotaryEmbedding": "its own PyTorch forward, switching between the short and the long cos/sin cache",
    "FourierRotaryEmbedding": "Fourier position embedding: its own PyTorch forward",
    "DualChunkRotaryEmbedding": "dual-chunk attention's own forward over several caches",
    "Llama4VisionRotaryEmbedding": "2-D RoPE of the vision tower: its own forward",
}
"""Rotary classes whose CUDA forward does not call apply_rope_with_cos_sin_cache_inplace."""

KERNEL_HEAD_SIZES = (64, 128, 256, 512)
"""Head sizes RotaryEmbedding sends to apply_rope_with_cos_sin_cache_inplace on CUDA."""

FUSED_KV_WRITE = "fused_set_kv_buffer_arg"


_DIMS = ("head_size", "rotary_dim", "is_neox_style")


def _rope(planner: Planner, component: Component) -> None:
    if component.class_name.endswith("RotaryEmbedding"):  # a rotary class the model builds itself
        class_name, dims = component.class_name, [component.value(k) for k in _DIMS]
    else:
        classes = sorted({b.class_name for b in component.builds})
        if len(classes) != 1:
            what = " or ".join(classes) if classes else "no class the parser could resolve"
            planner.pending(component, f"{component.class_name} builds {what} for this config: the rotary kernel is not known")
            return
        built = component.builds[0]
        class_name = built.class_name
        dims = [None if k not in built.params or built.params[k].unknown else built.params[k].value for k in _DIMS]
    serving = planner.inventory.serving
    swa_pool = serving.swa_kv_pool if serving else None
    if FUSED_KV_WRITE in component.call_keywords and planner.dtype == "bfloat16" and swa_pool is not True:
        where = f" ({serving.fused_rope_kv_write})" if serving and serving.fused_rope_kv_write else ""
        if swa_pool is None:
            planner.pending(component, f"{component.owner_class} calls its {class_name} with {FUSED_KV_WRITE}, fused with the KV write unless the KV cache is a sliding-window pool{where}: {serving.swa_kv_pool_reason if serving else 'undecided'}")
            return
        planner.pending(
            component,
            f"{component.owner_class} calls its {class_name} with {FUSED_KV_WRITE}: on CUDA with a bf16 KV cache that is not a "
            f"sliding-window pool SGLang rotates q and k and writes K/V to the cache in one kernel{where}, which no definition describes",
        )
        return
    plan_rope(planner, component, class_name, *dims)


def plan_rope(planner: Planner, component: Component, class_name: str, head_size, rotary_dim, is_neox) -> None:
    """Emit the rope definition `class_name` runs at these dimensions, or say why none."""
    if class_name in OWN_FORWARD:
        planner.pending(component, f"{class_name} computes RoPE another way on CUDA ({OWN_FORWARD[class_name]}), not with apply_rope_with_cos_sin_cache_inplace")
        return
    if class_name not in CACHE_KERNEL_CLASSES:
        planner.pending(component, f"{class_name} is not a rotary class known to run apply_rope_with_cos_sin_cache_inplace")
        return
    if not (isinstance(head_size, int) and isinstance(rotary_dim, int) and isinstance(is_neox, bool)):
        planner.pending(component, f"{class_name} head size, rotary dim or rotation style could not be resolved")
        return
    if head_size not in KERNEL_HEAD_SIZES:
        planner.pending(
            component,
            f"{class_name} with head size {head_size} takes SGLang's fallback rotary_embedding kernel on CUDA "
            f"(apply_rope_with_cos_sin_cache_inplace serves head sizes {', '.join(map(str, KERNEL_HEAD_SIZES))})",
        )
        return
    planner.emit(component, FAMILY, {"head_size": head_size, "rotary_dim": rotary_dim}, options={"is_neox": is_neox})


def plan_indexer_rope(planner: Planner, indexer: Component) -> None:
    """The DSA indexer's own RoPE over its rope_head_dim channels of q and k.

    The indexer calls get_rope_wrapper with the attention's rope_scaling, so it builds the
    class the attention's own rotary embedding (its sibling) was built as; only the
    rotation style is its own (`is_neox_style`, from the config's indexer_rope_interleave).
    """
    dim = indexer.value("rope_head_dim")
    sibling = next((c for c in planner.siblings(indexer) if c.kind == "rope"), None)
    classes = sorted({b.class_name for b in sibling.builds}) if sibling is not None else []
    if len(classes) != 1:
        planner.pending(indexer, "the DSA indexer's RoPE: the rotary class it builds could not be resolved from the attention's")
        return
    plan_rope(planner, indexer, classes[0], dim, dim, indexer.value("is_neox_style"))


RULES = {"rope": _rope}
