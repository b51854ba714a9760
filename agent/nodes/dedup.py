"""Node: look each built definition up in the store; identical ones need no verification."""

from __future__ import annotations

from pathlib import Path

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import ExtractionState
from tools.dedup_store import DefinitionStore


def deduplicate(state: ExtractionState, runtime: Runtime[AgentContext]) -> dict:
    store = DefinitionStore(Path(state.request.output_root))
    tasks = []
    counts = {"new": 0, "existing": 0, "shared": 0, "conflict": 0}
    for task in state.tasks:
        if task.definition is None or task.status != "planned":
            tasks.append(task)
            continue
        decision = store.decide(task.definition)
        counts[decision.action] += 1
        status = "exists" if decision.action in ("existing", "shared") else "drafted"
        tasks.append(task.model_copy(update={"decision": decision, "status": status}))
    for problem in store.problems:
        runtime.context.progress.warn(f"unreadable file in the store, left untouched: {problem.path} ({problem.error})")
    runtime.context.progress.stage("dedup", ", ".join(f"{n} {k}" for k, n in counts.items()))
    return {"tasks": tasks}
