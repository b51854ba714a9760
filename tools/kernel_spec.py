"""A kernel the model needs, before it becomes a Definition: the planner's output."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Stage = Literal["prefill", "decode"]


class KernelSpec(BaseModel):
    """One kernel at one shape: which family and the values of its constant axes."""

    family: str
    """Definition family, e.g. `rmsnorm`, `gemm`, `gqa_paged_decode`, `mla_paged_prefill`."""
    axes: dict[str, int]
    """Constant axes by their definition name, e.g. `{"num_qo_heads": 32, "page_size": 64}`."""
    options: dict[str, int | float | str | bool | None] = Field(default_factory=dict)
    """Non-axis parameters the family needs (routing method, scaling factor, ...)."""
    stage: Stage | None = None
    """Set for kernels that run in one stage only (attention)."""
    tp: int | None = None
    """Tensor-parallel size, for kernels whose shape depends on it."""
    profile_tps: list[int] = Field(default_factory=list)
    """Tensor-parallel sizes of the serving profiles that run this kernel. flashinfer-bench
    tags every definition with the `tp:` it was captured at, shape-dependent or not."""
    ep: int | None = None
    """Expert-parallel size, for kernels whose shape depends on it."""
    quantization: str | None = None
    """Quantization scheme, e.g. `fp8_block_scale`, for quantized kernels."""
    dtype: str = "bfloat16"
    """Activation dtype SGLang serves the model in (`bfloat16`, `float16`, `float32`): the
    dtype of the hidden states a norm, attention or RoPE kernel reads and writes."""
    components: list[str] = Field(default_factory=list)
    """Inventory paths that run this kernel."""
    layers: list[int] = Field(default_factory=list)
    """Decoder layers that run it."""

    def key(self) -> tuple:
        return (self.family, tuple(sorted(self.axes.items())), tuple(sorted(self.options.items())))


class SkippedComponent(BaseModel):
    """A recognised component that intentionally produces no definition, and why."""

    path: str
    kind: str
    reason: str


class PendingKernel(BaseModel):
    """A component the templates do not cover: it needs an LLM-drafted reference."""

    path: str
    kind: str
    class_name: str
    location: str | None = None
    reason: str
    layers: list[int] = Field(default_factory=list)
