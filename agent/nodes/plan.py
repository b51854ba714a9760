"""Node: inventories -> kernel tasks (template-backed, or pending for the LLM)."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import ExtractionState, KernelTask
from tools.definition_builder.builder import has_template
from tools.kernel_planner import PlanOptions, plan_kernels


def plan_kernel_tasks(state: ExtractionState, runtime: Runtime[AgentContext]) -> dict:
    model, request = state.model, state.request
    assert model is not None
    options = PlanOptions(page_sizes=model.profile.page_sizes, stages=request.stages, include_quantized=request.include_quantized)
    tasks: dict[str, KernelTask] = {}
    skipped, conditional = {}, []
    for inventory in state.inventories:
        plan = plan_kernels(inventory, options)
        for spec in plan.specs:
            key = "|".join(map(str, spec.key() + (spec.stage, spec.tp, spec.ep, spec.quantization)))
            if key in tasks:
                continue
            if has_template(spec.family):
                tasks[key] = KernelTask(id=key, origin="template", spec=spec)
            else:
                tasks[key] = KernelTask(id=key, origin="llm", spec=spec, status="needs_llm", note=f"no template for family {spec.family}")
        for pending in plan.pending:
            key = f"pending|{pending.path}|{pending.class_name}"
            tasks.setdefault(key, KernelTask(id=key, origin="llm", pending=pending, status="needs_llm", note=pending.reason))
        for skip in plan.skipped:
            skipped.setdefault((skip.path, skip.reason), skip)
        conditional += [c for c in plan.conditional if c not in conditional]
    task_list = list(tasks.values())
    runtime.context.progress.stage(
        "plan",
        f"{sum(t.origin == 'template' for t in task_list)} kernels from templates, "
        f"{sum(t.origin == 'llm' for t in task_list)} need an LLM draft, {len(skipped)} components skipped",
    )
    return {"tasks": task_list, "skipped": list(skipped.values()), "conditional": conditional}
