"""Node: inventories -> kernel tasks (template-backed, or pending for the LLM)."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import ExtractionState, KernelTask
from tools.definition_builder.builder import has_template
from tools.kernel_planner import PlanOptions, plan_kernels
from tools.kernel_spec import PendingKernel
from tools.model_parser.inventory import Inventory


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
                tasks[key] = KernelTask(
                    id=key, origin="llm", spec=spec, status="needs_llm", note=f"no template for family {spec.family}", tp=inventory.tp, ep=inventory.ep
                )
        for pending in plan.pending:
            key = pending_kernel_key(pending, inventory)
            task = tasks.get(key)
            if task is None:
                tasks[key] = KernelTask(id=key, origin="llm", pending=pending, status="needs_llm", note=pending.reason, tp=inventory.tp, ep=inventory.ep)
            elif pending.path not in task.components:
                task.same_kernel.append(pending)
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


def pending_kernel_key(pending: PendingKernel, inventory: Inventory) -> str:
    """Components of one class built with the same parameters run the same kernel: one key.

    The parameters are per-GPU values, so they also tell parallel profiles apart.
    Components the parser has no parameters for (unknown modules) are keyed by path
    and profile: their shapes may depend on TP/EP in ways nothing here can see.
    """
    matches = [c for c in inventory.components if c.path == pending.path and c.class_name == pending.class_name]
    if len(matches) != 1 or not matches[0].params:
        return f"pending|tp{inventory.tp}|ep{inventory.ep}|{pending.path}|{pending.class_name}"
    params = ",".join(f"{name}={param.value!r}" for name, param in sorted(matches[0].params.items()))
    return f"pending|{pending.class_name}|{pending.kind}|{params}"
