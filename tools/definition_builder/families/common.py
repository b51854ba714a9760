"""What every family module shares: meta tensors and the Family record."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import torch

from tools.definition_builder import paged_references
from tools.kernel_spec import KernelSpec

# Sizes for the runtime-variable axes: any value works, since fi_trace reads only the
# constant axes from tensor shapes. Distinct primes keep the axes from aliasing.
_TOKENS = 7
_PAGES = 11
_KV_TOKENS = 13

BF16 = torch.bfloat16
FP8 = torch.float8_e4m3fn


def _meta(*shape: int, dtype: torch.dtype = BF16) -> torch.Tensor:
    return torch.empty(*shape, dtype=dtype, device="meta")


def activation_dtype(spec: KernelSpec) -> torch.dtype:
    """The dtype of the hidden states the kernel reads: the one SGLang serves the model in."""
    return getattr(torch, spec.dtype)


def with_activation_dtype(raw: dict[str, Any], spec: KernelSpec) -> dict[str, Any]:
    """A template definition whose reference writes its output as bfloat16 whatever q's
    dtype (FlashInfer 0.7.2's attention templates), writing it in the served dtype."""
    if spec.dtype != "bfloat16":
        raw["reference"] = raw["reference"].replace("torch.bfloat16", f"torch.{spec.dtype}")
    return raw


@dataclass(frozen=True)
class Family:
    """How to build one family's raw definition dict (before normalisation).

    `trace` either calls FlashInfer's `fi_trace` on meta tensors (template-backed) or
    assembles the dict from a reference written in this project (`handwritten`).
    """

    name: str
    required_axes: tuple[str, ...]
    trace: Callable[[KernelSpec], dict[str, Any]]
    description: str
    reference_name: str | None = None
    """The reference function to rename to `run`, when the source defines several."""
    handwritten: bool = False
    """True when no FlashInfer trace template covers the family."""
    param_aliases: tuple[tuple[str, str], ...] = ()
    """Reference parameters to rename to the template's input names."""
    kept_axes: tuple[str, ...] = ()
    """Axes the dataset declares although no tensor uses them (MoE's top_k)."""


def trace_template(template: Any, fi_api: str | None, **kwargs: Any) -> dict[str, Any]:
    """Run a TraceTemplate that no public API carries (e.g. the MLA prefill template)."""
    raw = template.build_fi_trace_fn(fi_api or "")(**kwargs)
    if fi_api is None:
        raw["tags"] = [t for t in raw.get("tags", []) if not t.startswith("fi_api:")]
    return raw


def reference_source(*functions: Callable, prelude: str = "") -> str:
    """A self-contained reference: imports, `prelude` (constants), then the functions'
    source, the reference itself last."""
    return "import math\nimport torch\n\n" + prelude + "\n\n".join(inspect.getsource(f) for f in functions)


def ordered_axes(raw: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    """`raw` with its axes in the dataset's `order` (which must name exactly its axes)."""
    if set(order) != set(raw["axes"]):
        raise ValueError(f"{raw.get('name')}: axis order {order} does not name the axes {list(raw['axes'])}")
    return {**raw, "axes": {axis: raw["axes"][axis] for axis in order}}


def paged_definition(raw: dict[str, Any], page_size: int, reference: Callable) -> dict[str, Any]:
    """A paged-attention template's definition as the dataset writes it: at page size 1
    the template's; at larger pages an int32 `kv_last_page_len` [batch_size] after
    `kv_indices` (the templates address whole pages only), a `batch_size` axis (appended
    where the template has none, as in gqa_paged_prefill_causal_h32_kv8_d128_ps64) and
    `reference` (a function of `paged_references`), which reads it."""
    if page_size == 1:
        return raw
    inputs: dict[str, Any] = {}
    for name, spec in raw["inputs"].items():
        inputs[name] = spec
        if name == "kv_indices":
            inputs["kv_last_page_len"] = {
                "shape": ["batch_size"],
                "dtype": "int32",
                "description": "Tokens in each sequence's last page (1 to page_size); the other pages are full.",
            }
    if "kv_last_page_len" not in inputs:
        raise ValueError(f"{raw.get('name')}: the template has no kv_indices to place kv_last_page_len after")
    axes = dict(raw["axes"])
    axes.setdefault("batch_size", {"type": "var", "description": "Number of sequences."})
    return {**raw, "axes": axes, "inputs": inputs, "reference": reference_source(paged_references.sequence_tokens, reference)}
