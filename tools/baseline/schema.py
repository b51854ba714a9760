"""The documents `agent baseline` writes: `sglang_implementation.json` and `kernel_calls.json`.

Every code location is a `SourceSpan` inside the SGLang package (`sglang/srt/...:12-30`),
computed from the sources at run time. A step that could not be found in the SGLang
release read says so (`found: false` and a note) instead of pointing somewhere.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.kernel_spec import Stage
from tools.model_parser.inventory import ParamValue, SourceSpan, UnknownComponent

EquivalentStatus = Literal["defined", "no_template", "pending", "skipped", "unplanned"]


class _Doc(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")


class CallSite(_Doc):
    callee: str
    """The called expression as written, e.g. `decode_wrapper.forward`."""
    location: SourceSpan
    resolves_to: list[str] = Field(default_factory=list)
    """What the callee's name is bound to in its module (imports, definitions), e.g.
    `sgl_kernel.fused_add_rmsnorm`; empty for attributes of objects."""


class EntryPoint(_Doc):
    role: str
    """What this step is, e.g. `backend decode entry point`."""
    symbol: str
    """The class method or function the route names, e.g. `FlashInferAttnBackend.forward_decode`."""
    defined_in: str | None = None
    """Where it is defined when that differs (an inherited method), e.g. `AttentionBackend.forward`."""
    module: str | None = None
    """Dotted module of the definition."""
    location: SourceSpan | None = None
    """The definition's lines."""
    call: CallSite | None = None
    """The call in it that leads to the next step or to the kernel."""
    found: bool
    note: str | None = None
    """Why a step is missing from this SGLang release."""


class BaselineRoute(_Doc):
    name: str
    """Route id, e.g. `attention.decode`, `moe.experts.fp8`."""
    kernel: str
    """What runs, in words."""
    backend: str
    """The SGLang backend or method the route assumes."""
    entry_points: list[EntryPoint]
    complete: bool
    """True when every step was found in the SGLang sources."""


class KernelCall(_Doc):
    """One kernel a component runs, the SGLang code it goes through, and its definition."""

    module_path: str
    """Module path with decoder-layer indices as `*`, e.g. `model.layers.*.self_attn.attn`."""
    layers: list[int] = Field(default_factory=list)
    component_kind: str
    """Inventory layer kind, e.g. `attention.radix`."""
    layer_class: str
    owner_class: str
    tp: int
    ep: int
    stage: Stage | None = None
    kernel: str
    """What runs, in words (the route's description)."""
    kernel_family: str | None = None
    """The planner's definition family, when it plans one."""
    flashinfer_equivalent: str | None = None
    """The FlashInfer-Trace definition name `agent extract` writes for this kernel, or None."""
    equivalent_status: EquivalentStatus
    """defined: built from a trace template; no_template: planned, no template yet (extract
    leaves it pending); pending / skipped: the planner's verdict; unplanned: no verdict."""
    reason: str | None = None
    """Why there is no definition name."""
    baseline: BaselineRoute | None = None
    """The SGLang code path; None when no route is known for this kind of component."""
    baseline_note: str | None = None
    """Why `baseline` is None."""
    constructed_at: SourceSpan | None = None
    """Where the model builds the component."""
    code_location: str | None = None
    """`file:start-end` of the innermost step found: the call into the kernel."""
    snippet: str | None = None
    """The component's file under `code_snippets/`."""


class KernelCallsDocument(_Doc):
    model: str
    model_file: str
    entry_class: str
    sglang_version: str
    kernel_calls: list[KernelCall]


class KernelRef(_Doc):
    family: str | None = None
    stage: Stage | None = None
    flashinfer_equivalent: str | None = None
    equivalent_status: EquivalentStatus
    reason: str | None = None


class ForwardStep(_Doc):
    """A component in forward order, with the kernels it runs."""

    path: str
    kind: str
    class_name: str
    layers: list[int] = Field(default_factory=list)
    kernels: list[KernelRef] = Field(default_factory=list)


class LayerGroup(_Doc):
    label: str
    """e.g. a decoder-layer class, `dense`, `moe`, or an attention path and variant."""
    layers: list[int]


class DecoderStack(_Doc):
    num_layers: int
    layer_classes: list[LayerGroup]
    """Which decoder-layer class each layer is."""
    attention: list[LayerGroup]
    """Which attention module (path, class, variant) each layer uses."""
    feed_forward: list[LayerGroup]
    """Which layers are dense MLPs and which MoE."""
    components: list[ForwardStep]


class ForwardPass(_Doc):
    embedding: list[ForwardStep]
    decoder_layers: DecoderStack
    final_norm: list[ForwardStep]
    lm_head: list[ForwardStep]
    """The logits projection and the logits processor (sampling)."""
    other: list[ForwardStep] = Field(default_factory=list)
    """Model-level components outside these roles."""


class ConstructorCall(_Doc):
    """A kernel-bearing layer the model constructs: the call, its arguments, its location."""

    path: str
    function: str
    """The class or factory called, e.g. `RadixAttention`."""
    kind: str
    owner_class: str
    location: SourceSpan | None = None
    layers: list[int] = Field(default_factory=list)
    params: dict[str, ParamValue] = Field(default_factory=dict)
    """Arguments with their resolved value and the config expression they come from."""
    conditions: list[str] = Field(default_factory=list)
    quantized: bool = False


class ProfileImplementation(_Doc):
    tp: int
    ep: int
    forward_pass: ForwardPass
    kernel_calls_found: list[ConstructorCall]
    unknown: list[UnknownComponent] = Field(default_factory=list)
    """Modules the parser could not map to a kernel."""
    diagnostics: list[str] = Field(default_factory=list)


class SglangImplementation(_Doc):
    model: str
    """Catalog slug (or a slug of the given name)."""
    display_name: str
    hf_repo_id: str | None = None
    architecture: str
    model_file: str
    """The model file inside SGLang, e.g. `sglang/srt/models/llama.py`."""
    class_name: str
    """The entry class SGLang registers for the architecture."""
    class_location: SourceSpan | None = None
    sglang_version: str
    config_source: str
    chosen_because: str
    quantization: str | None = None
    """The checkpoint's `quantization_config.quant_method`, if any."""
    attention_backend: str = "flashinfer"
    """The SGLang attention backend the documented routes go through."""
    profiles: list[ProfileImplementation]
