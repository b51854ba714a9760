"""Node: build each template-backed task's Definition from FlashInfer's trace template."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import ExtractionState
from tools.definition_builder.builder import BuildContext, build_definition


def build_definitions(state: ExtractionState, runtime: Runtime[AgentContext]) -> dict:
    assert state.model is not None and state.sglang is not None
    context = BuildContext(model_slug=state.model.slug)
    tasks, by_name = [], {}
    for task in state.tasks:
        if task.origin != "template" or task.status != "planned":
            tasks.append(task)
            continue
        definition = build_definition(task.spec, context)
        twin = by_name.get(definition["name"])
        if twin is not None:  # two profiles planned the same kernel: one definition, both tags
            twin.definition["tags"] = sorted(set(twin.definition["tags"]) | set(definition["tags"]))
            continue
        task = task.model_copy(update={"definition": definition})
        by_name[definition["name"]] = task
        tasks.append(task)
    runtime.context.progress.stage("build", f"{len(by_name)} definitions built from FlashInfer trace templates")
    return {"tasks": tasks}
