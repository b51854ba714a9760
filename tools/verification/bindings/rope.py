"""RoPE with a precomputed cos/sin cache: `flashinfer.rope.apply_rope_with_cos_sin_cache_inplace`,
one kernel module per rotation style (the definitions fix the style in their name, the API
takes it as an argument)."""

from tools.verification.bindings import Binding

API = "flashinfer.rope.apply_rope_with_cos_sin_cache_inplace"
TEMPLATE = "flashinfer.trace.templates.rope:apply_rope_with_cos_sin_cache_inplace_trace"

BINDINGS = [
    Binding(
        build_seconds=30,
        name="rope_with_cos_sin_cache_neox",
        fi_api=API,
        op_type="rope",
        kernel="rope_with_cos_sin_cache_neox",
        applies=lambda definition: "_neox_style_" in definition["name"],
        template=TEMPLATE,
        description="apply_rope_with_cos_sin_cache_inplace, is_neox=True (in place, on copies)",
    ),
    Binding(
        build_seconds=30,
        name="rope_with_cos_sin_cache_gptj",
        fi_api=API,
        op_type="rope",
        kernel="rope_with_cos_sin_cache_gptj",
        applies=lambda definition: "_gptj_style_" in definition["name"],
        template=TEMPLATE,
        description="apply_rope_with_cos_sin_cache_inplace, is_neox=False (in place, on copies)",
    ),
]
