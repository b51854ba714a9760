"""The output format flashinfer-bench documents for a model's SGLang baseline.

Source: flashinfer-ai/flashinfer-bench `.claude/skills/find-sglang-baseline.md` at
commit 7b21553103e8b90e5d02e4f01efc21493fa230ec (section "Output Format"; the skill was
folded into other skills by e07b06cd, which dropped the format). These models hold only
the documented fields, with the documented names and meaning, and accept additional
keys, so a tool written against that document reads what `agent baseline` writes with
them. The project's own documents (`schema.py`) extend them with what it knows beyond.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, RootModel, SerializerFunctionWrapHandler, model_serializer, model_validator

DOCUMENTED_FORMAT_SOURCE = (
    "flashinfer-ai/flashinfer-bench:.claude/skills/find-sglang-baseline.md@7b21553103e8b90e5d02e4f01efc21493fa230ec"
)


class _Documented(BaseModel):
    # Additional keys are ignored, not refused: the format is read, not owned, by its tools.
    model_config = ConfigDict(use_attribute_docstrings=True, extra="ignore")


class KernelCallEntry(_Documented):
    """One entry of `kernel_calls.json` (a JSON list of these), as documented in
    flashinfer-bench `.claude/skills/find-sglang-baseline.md@7b215531`."""

    module: str
    """The model module that runs the kernel, as a path with decoder-layer indices as `*`
    (`model.layers.*.input_layernorm`)."""
    kernel: str | None
    """The kernel function SGLang calls: its dotted name where the call site's name
    resolves to one import (`sgl_kernel.rmsnorm`), a FlashInfer wrapper's method
    (`flashinfer.BatchDecodeWithPagedKVCacheWrapper.forward`), else the callee as SGLang
    writes it; None when the call was not found."""
    baseline_impl: str | None
    """The dotted SGLang class (or function) that implements the module's kernel
    (`sglang.srt.layers.layernorm.RMSNorm`); None when it could not be resolved."""
    flashinfer_equivalent: str | None
    """The FlashInfer-Trace definition name for this kernel; None when there is none."""
    code_location: str | None
    """Where the model builds the module, relative to `sglang/srt/`
    (`models/llama.py:366-366`): the constructor call whose arguments fix the kernel's
    dimensions."""


class KernelCallsFile(RootModel[list[KernelCallEntry]]):
    """`kernel_calls.json`: a list of entries (documented in
    flashinfer-bench `.claude/skills/find-sglang-baseline.md@7b215531`)."""


class ForwardLayer(_Documented):
    """A module of the decoder layer, in the order the layer builds it. Carries `kernel`
    (one kernel) or `kernels` (none or several), never both."""

    name: str
    """The module's path inside the decoder layer (`self_attn.attn`, `input_layernorm`)."""
    type: str
    """Its SGLang class (`RMSNorm`, `RadixAttention`)."""
    kernel: str | None = None
    """The kernel function it calls, when it calls exactly one."""
    kernels: list[str] | None = None
    """The kernel functions it calls, when it calls none or several."""

    @model_validator(mode="after")
    def _validate_kernel_or_kernels(self) -> ForwardLayer:
        if (self.kernel is None) == (self.kernels is None):
            raise ValueError(f"layer {self.name!r} must carry exactly one of `kernel` and `kernels`")
        return self

    @model_serializer(mode="wrap")
    def _drop_the_absent_alternative(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        data.pop("kernel" if self.kernel is None else "kernels", None)
        return data


class ForwardPassStructure(_Documented):
    """The model's forward pass: embedding, the decoder layer's modules, final norm, head."""

    embedding: str | None
    """The embedding module's path (`model.embed_tokens`); None when the model has none."""
    layers: list[ForwardLayer]
    """The decoder layer's kernel-bearing modules in build order."""
    final_norm: str | None
    """The final norm module's path (`model.norm`); None when the model has none."""
    lm_head: str | None
    """The logits projection module's path (`lm_head`); None when the model has none."""


class ImplementationKernelCall(_Documented):
    """A kernel call with the resolved values of the parameters that shape it."""

    function: str
    """The kernel function called (as `kernel` in `kernel_calls.json`)."""
    location: str
    """`line N` of the model file where the calling module is built; for a module built in
    another file, `models/<file>.py line N`."""
    parameters: dict[str, Any]
    """The module's constructor arguments with their values for this model and profile
    (`num_heads`, `head_dim`, ...); the expression itself where the value is unknown."""


class SglangImplementationFile(_Documented):
    """`sglang_implementation.json` (documented in flashinfer-bench
    `.claude/skills/find-sglang-baseline.md@7b215531`)."""

    model_name: str
    """The model's name (the catalog slug the given name resolved to, e.g. `llama-3.1-8b`)."""
    model_file: str
    """The model file in the SGLang repository (`python/sglang/srt/models/llama.py`)."""
    class_name: str
    """The model class SGLang registers for the architecture (`LlamaForCausalLM`)."""
    forward_pass_structure: ForwardPassStructure
    kernel_calls: list[ImplementationKernelCall]
