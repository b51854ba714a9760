"""Inventory -> each component's kernels with their FlashInfer-Trace definition names.

Names come only from the project's planner and definition builder, called exactly as
`agent extract` calls them, so a name here is the name extract writes for the same
model and profile; a kernel the planner does not cover (yet) carries the planner's
reason instead, and gains its name as soon as the planner and builder cover it.
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel

from tools.baseline.schema import EquivalentStatus
from tools.definition_builder.builder import BuildContext, build_definition, has_template
from tools.kernel_planner import KernelPlan, PlanOptions, plan_kernels
from tools.kernel_spec import KernelSpec
from tools.model_parser.inventory import Component, Inventory


class ComponentKernel(BaseModel):
    """One kernel one component runs at one profile, or the component's lack of one."""

    component: Component
    spec: KernelSpec | None = None
    """The planner's kernel; None when it plans none for the component."""
    definition_name: str | None = None
    status: EquivalentStatus
    reason: str | None = None


class DefinitionNames:
    """Definition names by spec, built once each (the builder traces FlashInfer templates)."""

    def __init__(self, context: BuildContext) -> None:
        self.context = context
        self._names: dict[tuple, str] = {}

    def name(self, spec: KernelSpec) -> str:
        key = spec.key() + (spec.stage, spec.tp, spec.ep, spec.quantization)
        if key not in self._names:
            self._names[key] = build_definition(spec, self.context)["name"]
        return self._names[key]


def component_kernels(inventory: Inventory, options: PlanOptions, names: DefinitionNames) -> list[ComponentKernel]:
    """Every component's kernels (one entry per kernel, or one entry saying why none)."""
    plan = plan_kernels(inventory, options)
    paths = Counter(c.path for c in inventory.components)
    result: list[ComponentKernel] = []
    for component in inventory.components:
        # The plan lists kernels by component path; where several components share a path
        # (different parameters in different layers), plan this one without its siblings.
        own = plan if paths[component.path] == 1 else plan_kernels(_without_siblings(inventory, component), options)
        specs = [s for s in own.specs if component.path in s.components]
        if specs:
            result += [_named(component, spec, names) for spec in specs]
        else:
            result.append(_verdict(component, own))
    for unknown in inventory.unknown:
        # Modules the parser cannot map are kernels nobody has named yet: listed, not dropped.
        stand_in = Component(
            path=unknown.path, kind="unknown", class_name=unknown.class_name, owner_class=unknown.owner_class,
            parent_role="nested", layers=unknown.layers, location=unknown.location,
        )
        result.append(ComponentKernel(component=stand_in, status="pending", reason=unknown.reason))
    return result


def _without_siblings(inventory: Inventory, component: Component) -> Inventory:
    kept = [c for c in inventory.components if c.path != component.path or c is component]
    return inventory.model_copy(update={"components": kept})


def _named(component: Component, spec: KernelSpec, names: DefinitionNames) -> ComponentKernel:
    if has_template(spec.family):
        return ComponentKernel(component=component, spec=spec, definition_name=names.name(spec), status="defined")
    return ComponentKernel(
        component=component,
        spec=spec,
        status="no_template",
        reason=f"no FlashInfer trace template for family {spec.family!r} yet: `agent extract` leaves it pending for an LLM draft",
    )


def _verdict(component: Component, plan: KernelPlan) -> ComponentKernel:
    for pending in plan.pending:
        if pending.path == component.path and pending.class_name == component.class_name:
            return ComponentKernel(component=component, status="pending", reason=pending.reason)
    for skipped in plan.skipped:
        if skipped.path == component.path and skipped.kind == component.kind:
            return ComponentKernel(component=component, status="skipped", reason=skipped.reason)
    return ComponentKernel(component=component, status="unplanned", reason="the planner gave no kernel and no verdict for this component")
