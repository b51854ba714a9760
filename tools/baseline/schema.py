"""The documents `agent baseline` writes: `sglang_implementation.json` and `kernel_calls.json`.

Each extends the format flashinfer-bench documents (`documented_format.py`): the
documented fields come first, with their documented meaning, and everything the project
knows beyond them follows under additional keys. Every code location outside the
documented fields is a `SourceSpan` inside the SGLang package (`sglang/srt/...:12-30`),
computed from the sources at run time. A step that could not be found in the SGLang
release read says so (`found: false` and a note) instead of pointing somewhere.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.baseline.documented_format import (
    ForwardLayer,
    ForwardPassStructure,
    ImplementationKernelCall,
    KernelCallEntry,
    SglangImplementationFile,
)
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


class KernelCall(KernelCallEntry):
    """One kernel a component runs, the SGLang code it goes through, and its definition:
    an entry of `kernel_calls.json`, the documented fields first."""

    model_config = ConfigDict(extra="forbid")

    layers: list[int] = Field(default_factory=list)
    component_kind: str
    """Inventory layer kind, e.g. `attention.radix`."""
    layer_class: str
    owner_class: str
    tp: int
    ep: int
    stage: Stage | None = None
    kernel_family: str | None = None
    """The planner's definition family, when it plans one."""
    equivalent_status: EquivalentStatus
    """defined: built from a trace template; no_template: planned, no template yet (extract
    leaves it pending); pending / skipped: the planner's verdict; unplanned: no verdict."""
    reason: str | None = None
    """Why there is no definition name."""
    baseline: BaselineRoute | None = None
    """The SGLang code path, and what runs in words; None when no route is known for
    this kind of component."""
    baseline_note: str | None = None
    """Why `baseline` is None."""
    constructed_at: SourceSpan | None = None
    """Where the model builds the component (`code_location` as a span)."""
    kernel_location: str | None = None
    """`file:start-end` of the call into the kernel (the innermost step); None unless
    every step of the route was found."""
    snippet: str | None = None
    """The component's file under `code_snippets/`."""


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


class LayerEntry(ForwardLayer):
    """A decoder-layer module of `forward_pass_structure.layers`, with the layers it is in."""

    model_config = ConfigDict(extra="forbid")

    layers: list[int]
    """The decoder layers that build this module (hybrid models differ per layer)."""


class ForwardPassSummary(ForwardPassStructure):
    model_config = ConfigDict(extra="forbid")

    layers: list[LayerEntry]


class ImplementationCall(ImplementationKernelCall):
    model_config = ConfigDict(extra="forbid")

    module: str
    """The module that makes the call (as `module` in `kernel_calls.json`)."""


class DocumentedProfile(_Doc):
    """The documented view of one serving profile: what the top level says for the first."""

    tp: int
    ep: int
    forward_pass_structure: ForwardPassSummary
    kernel_calls: list[ImplementationCall]


class SglangImplementation(SglangImplementationFile):
    """`sglang_implementation.json`: the documented fields describe the first serving
    profile (`tp`, `ep`); `other_profiles` says the same of the others, and `profiles`
    holds the full analysis of every profile."""

    model_config = ConfigDict(extra="forbid")

    forward_pass_structure: ForwardPassSummary
    kernel_calls: list[ImplementationCall]
    tp: int
    ep: int
    other_profiles: list[DocumentedProfile] = Field(default_factory=list)
    """The documented fields for each further serving profile."""
    display_name: str
    hf_repo_id: str | None = None
    architecture: str
    class_location: SourceSpan | None = None
    sglang_version: str
    config_source: str
    chosen_because: str
    quantization: str | None = None
    """The checkpoint's `quantization_config.quant_method`, if any."""
    attention_backend: str = "flashinfer"
    """The SGLang attention backend the documented routes go through."""
    profiles: list[ProfileImplementation]
