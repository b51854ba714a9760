"""Inventory -> the kernels serving the model runs, as KernelSpecs.

Each rule reads one kind of inventory component and emits the kernel families the
flashinfer-trace dataset defines for it, following the dataset's conventions:

- attention head counts are per GPU (the parser already split them by TP);
- GEMM shapes are the layer's full (unsplit) N x K, as in the dataset's model sets;
- a norm runs fused with the residual add where the model passes it a residual or hands
  it to SGLang's residual-stream boundaries, and plain where it is called on the hidden
  states alone (read from the call sites, `Component.calls` / `handed_to`);
- activations carry the dtype SGLang serves the model in (`Inventory.serving`); families
  whose definitions here are bf16-only are pending for a model served otherwise;
- sampling kernels take the vocabulary size of the logits head;
- RoPE runs as its own kernel where SGLang's rotary class calls the cos/sin-cache kernel
  (`rope.py`), named by head size, rotary dim and rotation style only.

Components that need no definition are listed as skipped with the reason; components
no rule covers are listed as pending, for the LLM stage, with the value or expression
that could not be resolved. Nothing is invented.
"""

from __future__ import annotations

from typing import Callable, Iterable

from pydantic import BaseModel, Field

from tools.kernel_spec import KernelSpec, PendingKernel, SkippedComponent, Stage
from tools.model_parser.inventory import Component, Inventory

Rule = Callable[["Planner", Component], None]

BF16_ONLY_FAMILIES = ("moe_", "mla_", "dsa_", "gdn_", "kda_")
"""Families whose builders write bfloat16 activations whatever the model serves in."""


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


class Planner:
    def __init__(self, inventory: Inventory, options: PlanOptions) -> None:
        self.inventory = inventory
        self.options = options
        self.plan = KernelPlan()
        self._specs: dict[tuple, KernelSpec] = {}

    def run(self) -> KernelPlan:
        for component in self.inventory.components:
            rule = RULES.get(component.kind) or RULES.get(component.kind.split(".")[0])
            if component.conditions:
                self.plan.conditional.append(f"{component.path} ({component.class_name}) only if: {' and '.join(component.conditions)}")
            if rule is None:
                self.pending(component, f"no kernel rule for layer kind {component.kind!r}")
                continue
            if component.replaces_forward:
                self.pending(
                    component,
                    f"{component.class_name} extends {component.base_class} but overrides its forward "
                    f"({component.replaces_forward}) without calling it: the kernel it runs is not {component.base_class}'s",
                )
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

    @property
    def dtype(self) -> str:
        """The activation dtype SGLang serves the model in."""
        serving = self.inventory.serving
        return serving.dtype if serving is not None else "bfloat16"

    def unresolved(self, component: Component, *names: str) -> str:
        """`num_kv_heads (from <expression>)` for each of `names` the parser left unknown."""
        parts = []
        for name in names:
            param = component.params.get(name)
            if param is None:
                parts.append(f"{name} (not passed)")
            elif param.unknown:
                parts.append(f"{name} (from {param.expr or 'a runtime value'})")
        return "; ".join(parts) or "none of " + ", ".join(names)

    def emit(self, component: Component, family: str, axes: dict[str, int], **fields) -> None:
        if self.dtype != "bfloat16" and family.startswith(BF16_ONLY_FAMILIES):
            serving = self.inventory.serving
            self.pending(
                component,
                f"SGLang serves this model in {self.dtype} ({serving.dtype_reason if serving else 'config'}); "
                f"the {family} definitions here are written for bfloat16 activations",
            )
            return
        spec = KernelSpec(family=family, axes=axes, dtype=self.dtype, **fields)
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
        if any(p.path == component.path and p.reason == reason and p.layers == component.layers for p in self.plan.pending):
            return
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

    def siblings(self, component: Component) -> list[Component]:
        """Components built by the same module as `component` (same parent path)."""
        parent = component.path.rsplit(".", 1)[0]
        return [c for c in self.inventory.components if c is not component and c.path.rsplit(".", 1)[0] == parent]


from tools.kernel_planner import attention, dense, linear_attention, mla, moe, norms, rope  # noqa: E402  (rules need Planner)

RULES: dict[str, Rule] = {**norms.RULES, **dense.RULES, **attention.RULES, **mla.RULES, **moe.RULES, **linear_attention.RULES, **rope.RULES}


def plan_kernels(inventory: Inventory, options: PlanOptions | None = None) -> KernelPlan:
    """The kernels `inventory` runs, with what was skipped and what is pending."""
    return Planner(inventory, options or PlanOptions()).run()
