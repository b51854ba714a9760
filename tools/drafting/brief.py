"""What the drafting prompt tells the LLM about one kernel, assembled deterministically.

A `DraftBrief` holds the facts: the SGLang component (class, file:line, the source of
its class), its constructor parameters with the config expressions they came from, the
model config, the parallel profile, the target (when the planner knows the kernel
family and its constant axes) and one example definition of the same op type: a
verified one from the store if there is one, else one built from a FlashInfer template.
"""

from __future__ import annotations

from typing import Any, Iterable

from pydantic import BaseModel, Field

from tools import naming
from tools.kernel_spec import KernelSpec
from tools.model_parser.inventory import Component

# Dataset op types, longest first so that `fused_add_rmsnorm` wins over `rmsnorm`.
KNOWN_OP_TYPES = ("fused_add_rmsnorm", "gqa_paged", "gqa_ragged", "mla_paged", "mla_ragged", "dsa_paged", "rmsnorm", "sampling", "gemm", "moe", "gdn", "rope")

# What a layer kind (its prefix) or a class-name word suggests the op type is.
_KIND_OP_TYPES = {
    "norm": ("rmsnorm", "fused_add_rmsnorm"),
    "attention": ("gqa_ragged", "gqa_paged", "mla_paged", "mla_ragged"),
    "moe": ("moe",),
    "linear": ("gemm",),
    "rope": ("rope",),
}
_CLASS_WORDS = {"attention": "attention", "norm": "norm", "moe": "moe", "expert": "moe", "linear": "linear", "rotary": "rope"}


class DraftTarget(BaseModel):
    """What the planner already knows about the kernel: the definition must agree with it."""

    family: str
    const_axes: dict[str, int]
    """Axes the definition must declare as `const` with exactly these values."""
    options: dict[str, Any] = Field(default_factory=dict)
    stage: str | None = None
    quantization: str | None = None


class DraftBrief(BaseModel):
    """Everything the drafting prompt says about one kernel."""

    model_slug: str
    model_name: str
    sglang_version: str
    class_name: str
    kind: str
    """The parser's layer kind, `unknown` for modules it has no mapping for."""
    components: list[str]
    """Module paths that run the kernel."""
    location: str | None = None
    """`file:start-end` where the (first) component is constructed."""
    reason: str
    """Why no template covers it."""
    layers: list[int] = Field(default_factory=list)
    tp: int = 1
    ep: int = 1
    parameters: dict[str, str] = Field(default_factory=dict)
    """Constructor arguments as `value (from expression)`."""
    config: dict[str, Any] = Field(default_factory=dict)
    """The model config, flattened to dotted keys."""
    source: str | None = None
    """The numbered SGLang source excerpt (construction site and class)."""
    target: DraftTarget | None = None
    example: dict[str, Any] | None = None
    example_origin: str | None = None


def target_from_spec(spec: KernelSpec) -> DraftTarget:
    return DraftTarget(family=spec.family, const_axes=dict(spec.axes), options=dict(spec.options), stage=spec.stage, quantization=spec.quantization)


def flatten_config(config: dict[str, Any], *, max_list: int = 16) -> dict[str, Any]:
    """`{"text_config": {"hidden_size": 8}}` -> `{"text_config.hidden_size": 8}`; long lists
    (per-layer tables) are summarised, not spelled out."""
    flat: dict[str, Any] = {}

    def visit(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                visit(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, list) and len(value) > max_list:
            distinct = sorted({repr(v) for v in value})
            flat[prefix] = f"<list of {len(value)}; values {', '.join(distinct[:8])}{', ...' if len(distinct) > 8 else ''}>"
        else:
            flat[prefix] = value

    visit("", config)
    return flat


def describe_parameters(component: Component) -> dict[str, str]:
    described = {}
    for name, param in sorted(component.params.items()):
        if param.unknown:
            options = f"; one of {param.options}" if param.options else ""
            described[name] = f"unresolved ({param.expr or 'runtime value'}{options})"
        else:
            described[name] = repr(param.value) + (f" (from {param.expr})" if param.expr else "")
    return described


def likely_op_types(kind: str, class_name: str, family: str | None = None) -> list[str]:
    """The dataset op types a kernel of this kind, class or family probably belongs to."""
    if family:
        for op_type in KNOWN_OP_TYPES:
            if family.startswith(op_type):
                return [op_type]
    prefix = kind.split(".")[0]
    if prefix in _KIND_OP_TYPES:
        return list(_KIND_OP_TYPES[prefix])
    lowered = class_name.lower()
    for word, kind_prefix in _CLASS_WORDS.items():
        if word in lowered:
            return list(_KIND_OP_TYPES[kind_prefix])
    return []


def choose_example(stored: Iterable[dict[str, Any]], built: Iterable[dict[str, Any]], op_types: list[str]) -> tuple[dict[str, Any] | None, str | None]:
    """One example definition and where it came from; the shortest reference wins a tie.

    Order: a verified store definition of a likely op type, a template-built one of a
    likely op type, else any template-built one (so the format is always shown).
    """
    verified = [d for d in stored if naming.status_tag("verified") in d.get("tags", [])]
    built = list(built)
    for pool, origin in (
        ([d for d in verified if d.get("op_type") in op_types], "a verified definition from the dataset, of the same op type"),
        ([d for d in built if d.get("op_type") in op_types], "built from FlashInfer's trace template in this run, of the same op type"),
        (built, "built from FlashInfer's trace template in this run; another op type, shown for the format"),
    ):
        if pool:
            example = min(pool, key=lambda d: (len(d.get("reference", "")), d["name"]))
            return {k: v for k, v in example.items() if k != "tags"}, origin
    return None, None
