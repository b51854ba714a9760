"""Node: look each built definition up in the store; identical ones need no verification.

Kernels waiting for an LLM draft are looked up too, through the index of what earlier
runs drafted (`tools/drafted_index.py`): a kernel drafted and committed before is reused,
not drafted (and paid for) again.
"""

from __future__ import annotations

from pathlib import Path

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import ExtractionState, KernelTask
from tools.dedup_store import DefinitionStore
from tools.drafted_index import DraftedIndex, drafted_key
from tools.drafting.reply import draft_tags


def deduplicate(state: ExtractionState, runtime: Runtime[AgentContext]) -> dict:
    store = DefinitionStore(Path(state.request.output_root))
    drafted = DraftedIndex(Path(state.request.output_root))
    tasks = []
    counts = {"new": 0, "existing": 0, "shared": 0, "conflict": 0}
    recalled = 0
    for task in state.tasks:
        if task.status == "needs_llm":
            reused = _recall(task, state, store, drafted)
            recalled += reused is not task
            tasks.append(reused)
            continue
        if task.definition is None or task.status != "planned":
            tasks.append(task)
            continue
        decision = store.decide(task.definition, model_aliases=state.model.aliases if state.model else ())
        counts[decision.action] += 1
        status = "exists" if decision.action in ("existing", "shared") else "drafted"
        tasks.append(task.model_copy(update={"decision": decision, "status": status}))
    for problem in store.problems:
        runtime.context.progress.warn(f"unreadable file in the store, left untouched: {problem.path} ({problem.error})")
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    runtime.context.progress.stage("dedup", summary + (f"; {recalled} LLM-drafted in earlier runs, reused" if recalled else ""))
    assert state.model is not None
    return {"tasks": tasks, "dataset_tagged": store.tagged_for(state.model.slug, state.model.aliases)}


def _recall(task: KernelTask, state: ExtractionState, store: DefinitionStore, drafted: DraftedIndex) -> KernelTask:
    """The task with the definition an earlier run drafted for it, or unchanged."""
    assert state.model is not None and state.sglang is not None
    stored = drafted.recall(drafted_key(state.model.slug, task.id), store)
    if stored is None:
        return task
    stage = task.spec.stage if task.spec else None
    ours = draft_tags(state.model.slug, stored["op_type"], stored["name"], tp=task.tp or 1, ep=task.ep or 1, stage=stage)
    kept = list(stored.get("tags", []))
    definition = dict(stored, tags=kept + [t for t in ours if t not in kept])
    return task.model_copy(
        update={"definition": definition, "decision": store.decide(definition, model_aliases=state.model.aliases), "status": "exists", "note": "drafted by an LLM in an earlier run"}
    )
