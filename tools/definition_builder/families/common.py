"""What every family module shares: meta tensors and the Family record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

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


def trace_template(template: Any, fi_api: str | None, **kwargs: Any) -> dict[str, Any]:
    """Run a TraceTemplate that no public API carries (e.g. the MLA prefill template)."""
    raw = template.build_fi_trace_fn(fi_api or "")(**kwargs)
    if fi_api is None:
        raw["tags"] = [t for t in raw.get("tags", []) if not t.startswith("fi_api:")]
    return raw
