"""Inventory -> the kernels serving the model runs, as KernelSpecs.

Each rule reads one kind of inventory component and emits the kernel families the
flashinfer-trace dataset defines for it, following the dataset's conventions:

- attention head counts are per GPU (the parser already split them by TP);
- GEMM shapes are the layer's full (unsplit) N x K, as in the dataset's model sets;
- residual-stream RMSNorms (decoder-layer and final norms) run both as plain RMSNorm
  (the first layer's input norm) and fused with the residual add;
- sampling kernels take the vocabulary size of the logits head.

Components that need no definition are listed as skipped with the reason; components
no rule covers are listed as pending, for the LLM stage. Nothing is invented.
"""

from __future__ import annotations

from typing import Callable, Iterable

from pydantic import BaseModel, Field

from tools.kernel_spec import KernelSpec, PendingKernel, SkippedComponent, Stage
from tools.model_parser.inventory import Component, Inventory


class PlanOptions(BaseModel):
    page_sizes: list[int] = Field(default_factory=lambda: [1, 64])
    """KV-cache page sizes to emit paged attention for."""
    stages: list[Stage] = Field(default_factory=lambda: ["prefill", "decode"])
    """Execution modes to emit stage-specific kernels for."""
    include_quantized: bool = False
    """Also emit quantized variants (fp8 GEMMs of quantized checkpoints)."""


class KernelPlan(BaseModel):
    specs: list[KernelSpec] = Field(default_factory=list)
    skipped: list[SkippedComponent] = Field(default_factory=list)
    pending: list[PendingKernel] = Field(default_factory=list)
    conditional: list[str] = Field(default_factory=list)
    """Components built only under runtime switches the parser could not resolve."""


class _Planner:
    def __init__(self, inventory: Inventory, options: PlanOptions) -> None:
        self.inventory = inventory
        self.options = options
        self.plan = KernelPlan()
        self._specs: dict[tuple, KernelSpec] = {}
        self.residual_width = self._residual_width()

    def run(self) -> KernelPlan:
        for component in self.inventory.components:
            rule = _RULES.get(component.kind) or _RULES.get(component.kind.split(".")[0])
            if component.conditions:
                self.plan.conditional.append(f"{component.path} ({component.class_name}) only if: {' and '.join(component.conditions)}")
            if rule is None:
                self.pending(component, f"no kernel rule for layer kind {component.kind!r}")
                continue
            rule(self, component)
        for unknown in self.inventory.unknown:
            self.plan.pending.append(
                PendingKernel(
                    path=unknown.path,
                    kind="unknown",
                    class_name=unknown.class_name,
                    location=str(unknown.location) if unknown.location else None,
                    reason=unknown.reason,
                    layers=unknown.layers,
                )
            )
        self.plan.specs = list(self._specs.values())
        return self.plan

    # ---------------------------------------------------------------- helpers

    def _residual_width(self) -> int | None:
        for component in self.inventory.components:
            if component.kind == "norm.rmsnorm" and component.parent_role == "model":
                return component.value("hidden_size")
        return None

    def emit(self, component: Component, family: str, axes: dict[str, int], **fields) -> None:
        spec = KernelSpec(family=family, axes=axes, **fields)
        key = spec.key() + (spec.stage, spec.tp, spec.ep, spec.quantization)
        existing = self._specs.get(key)
        if existing is None:
            existing = self._specs[key] = spec
        if component.path not in existing.components:
            existing.components.append(component.path)
        existing.layers = sorted(set(existing.layers) | set(component.layers))

    def skip(self, component: Component, reason: str) -> None:
        self.plan.skipped.append(SkippedComponent(path=component.path, kind=component.kind, reason=reason))

    def pending(self, component: Component, reason: str) -> None:
        self.plan.pending.append(
            PendingKernel(
                path=component.path,
                kind=component.kind,
                class_name=component.class_name,
                location=str(component.location) if component.location else None,
                reason=reason,
                layers=component.layers,
            )
        )

    def stages(self) -> Iterable[Stage]:
        return [s for s in ("prefill", "decode") if s in self.options.stages]


# -------------------------------------------------------------------- rules


def _rmsnorm(planner: _Planner, component: Component) -> None:
    hidden = component.value("hidden_size")
    if not isinstance(hidden, int):
        planner.pending(component, "RMSNorm width could not be resolved")
        return
    planner.emit(component, "rmsnorm", {"hidden_size": hidden})
    on_residual_stream = component.parent_role in ("decoder_layer", "model") and hidden == planner.residual_width
    if on_residual_stream:
        planner.emit(component, "fused_add_rmsnorm", {"hidden_size": hidden})


def _gemm_shape(component: Component) -> tuple[int, int] | None:
    kind = component.kind
    if kind == "linear.qkv":
        heads, kv_heads = component.value("total_num_heads"), component.value("total_num_kv_heads")
        head, hidden = component.value("head_size"), component.value("hidden_size")
        v_head = component.value("v_head_size") or head
        if not all(isinstance(x, int) for x in (heads, kv_heads, head, hidden, v_head)):
            return None
        return (heads + kv_heads) * head + kv_heads * v_head, hidden
    if kind == "linear.merged_column":
        sizes = component.value("output_sizes")
        k = component.value("input_size")
        if not isinstance(sizes, list) or not all(isinstance(x, int) for x in sizes) or not isinstance(k, int):
            return None
        return sum(sizes), k
    n, k = component.value("output_size"), component.value("input_size")
    if isinstance(n, int) and isinstance(k, int):
        return n, k
    return None


def _linear(planner: _Planner, component: Component) -> None:
    shape = _gemm_shape(component)
    if shape is None:
        planner.pending(component, "linear layer shape could not be resolved")
        return
    n, k = shape
    if component.quantized:
        if planner.options.include_quantized:
            planner.pending(component, f"quantized GEMM n{n} k{k}: no quantized GEMM family is registered yet")
        else:
            planner.skip(component, f"quantized GEMM n{n} k{k} (the checkpoint stores these weights quantized); pass --include-quantized")
        return
    planner.emit(component, "gemm", {"N": n, "K": k})


def _attention(planner: _Planner, component: Component) -> None:
    heads = component.value("num_heads")
    kv_heads = component.value("num_kv_heads")
    head_dim = component.value("head_dim")
    v_head_dim = component.value("v_head_dim", -1)
    if not all(isinstance(x, int) for x in (heads, kv_heads, head_dim)):
        planner.pending(component, "attention head counts could not be resolved")
        return
    if v_head_dim not in (-1, None, head_dim):
        planner.pending(component, f"attention with head_dim {head_dim} != v_head_dim {v_head_dim} (MLA) has no rule yet")
        return
    variant = _unsupported_attention_variant(component)
    if variant:
        planner.pending(component, variant)
        return
    tp = planner.inventory.tp
    axes = {"num_qo_heads": heads, "num_kv_heads": kv_heads, "head_dim": head_dim}
    for stage in planner.stages():
        for page_size in planner.options.page_sizes:
            family = "gqa_paged_decode" if stage == "decode" else "gqa_paged_prefill"
            planner.emit(component, family, {**axes, "page_size": page_size}, stage=stage, tp=tp)
        if stage == "prefill":
            planner.emit(component, "gqa_ragged_prefill", axes, stage=stage, tp=tp)


def _unsupported_attention_variant(component: Component) -> str | None:
    if component.value("is_cross_attention"):
        return "cross-attention has no flashinfer-trace definition family"
    attn_type = component.value("attn_type")
    if isinstance(attn_type, str) and attn_type.lower() not in ("decoder", "attentiontype.decoder"):
        return f"attention type {attn_type!r} (non-causal) has no definition family here"
    logit_cap = component.value("logit_cap", 0.0)
    if isinstance(logit_cap, (int, float)) and logit_cap > 0:
        return f"attention with logit soft-capping ({logit_cap}) is not expressed by the gqa definitions"
    return None


def _logits(planner: _Planner, component: Component) -> None:
    vocab = None
    for candidate in planner.inventory.components:
        if candidate.kind in ("lm_head", "embedding"):
            vocab = candidate.value("num_embeddings")
            if candidate.kind == "lm_head":
                break
    if not isinstance(vocab, int):
        planner.pending(component, "vocabulary size could not be resolved")
        return
    for family in ("top_k_sampling_from_probs", "top_p_sampling_from_probs", "top_k_top_p_sampling_from_probs"):
        planner.emit(component, family, {"vocab_size": vocab})


def _skip(reason: str) -> Callable[[_Planner, Component], None]:
    return lambda planner, component: planner.skip(component, reason)


_RULES: dict[str, Callable[[_Planner, Component], None]] = {
    "norm.rmsnorm": _rmsnorm,
    "linear.qkv": _linear,
    "linear.merged_column": _linear,
    "linear.column": _linear,
    "linear.row": _linear,
    "linear.replicated": _linear,
    "linear.parameter": _linear,
    "attention.radix": _attention,
    "logits": _logits,
    "lm_head": _skip("the logits projection is not part of the dataset's model kernel sets"),
    "embedding": _skip("an embedding lookup is a gather, with no FlashInfer kernel"),
    "rope": _skip("RoPE is applied inside SGLang's attention pre-processing; the dataset's model sets list no standalone RoPE here"),
    "activation": _skip("SiLU-and-mul between the gate_up and down GEMMs is elementwise; not a dataset kernel"),
}


def plan_kernels(inventory: Inventory, options: PlanOptions | None = None) -> KernelPlan:
    """The kernels `inventory` runs, with what was skipped and what is pending."""
    return _Planner(inventory, options or PlanOptions()).run()
