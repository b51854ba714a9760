"""Small definitions built the way extraction builds them: the definition builder's families."""

from __future__ import annotations

from tools.definition_builder.builder import BuildContext, build_definition
from tools.kernel_spec import KernelSpec

CONTEXT = BuildContext(model_slug="test-model")
SMALL_GQA = {"num_qo_heads": 4, "num_kv_heads": 2, "head_dim": 16}


def build(family: str, options: dict | None = None, **axes: int) -> dict:
    return build_definition(KernelSpec(family=family, axes=axes, options=options or {}), CONTEXT)


def rope(head_size: int = 64, rotary_dim: int = 32, *, is_neox: bool = True) -> dict:
    """A rope definition (partial rotary by default: both rotated and passed channels)."""
    return build("rope_with_cos_sin_cache", {"is_neox": is_neox}, head_size=head_size, rotary_dim=rotary_dim)


def mla(stage: str, *, heads: int = 16, page_size: int = 1) -> dict:
    """An MLA paged definition at DeepSeek-V3's latent widths (ckv 512, kpe 64)."""
    return build(f"mla_paged_{stage}", num_qo_heads=heads, head_dim_ckv=512, head_dim_kpe=64, page_size=page_size)


def toy(name: str, body: str, imports: str = "import torch\n") -> dict:
    """A hand-written definition y = f(x) over [n, 8] float32, whose reference is `body`."""
    return {
        "name": name,
        "op_type": "toy",
        "axes": {"n": {"type": "var"}, "d": {"type": "const", "value": 8}},
        "inputs": {"x": {"shape": ["n", "d"], "dtype": "float32"}},
        "outputs": {"y": {"shape": ["n", "d"], "dtype": "float32"}},
        "reference": imports + "\ndef run(x):\n" + "".join(f"    {line}\n" for line in body.splitlines()),
    }
