"""Node: write checked definitions to the store (never overwriting), or say what would be."""

from __future__ import annotations

from pathlib import Path

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import ExtractionState
from tools.dedup_store import CONFLICTS_DIR, DefinitionStore
from tools.drafted_index import DraftedIndex, drafted_key


def commit_definitions(state: ExtractionState, runtime: Runtime[AgentContext]) -> dict:
    request = state.request
    store = DefinitionStore(Path(request.output_root))
    assert state.model is not None
    aliases = state.model.aliases
    tasks = []
    for task in state.tasks:
        if task.status not in ("passed", "unchecked", "exists"):
            tasks.append(task)
            continue
        if request.dry_run:
            tasks.append(task.model_copy(update={"decision": store.decide(task.definition, model_aliases=aliases)}))
            continue
        # Decide again at commit time: another run may have written since the dedup node.
        decision = store.commit(task.definition, merge_tags=request.deduplicate, model_aliases=aliases)
        tasks.append(task.model_copy(update={"decision": decision, "status": "committed"}))
    if not request.dry_run:
        # Remember what the LLM drafted, so that the next run reuses it instead of redrafting.
        DraftedIndex(Path(request.output_root)).record(
            {drafted_key(state.model.slug, t.id): t.decision.name for t in tasks if t.origin == "llm" and t.status == "committed" and t.decision.action != "conflict"}, store
        )
        committed = [t.decision for t in tasks if t.status == "committed" and t.decision]
        written = sum(1 for d in committed if d.action == "new" or d.added_tags)
        conflicts = sum(1 for d in committed if d.action == "conflict")
        kept = f"; {conflicts} conflicting definitions kept under {store.root / CONFLICTS_DIR}, not in the dataset" if conflicts else ""
        runtime.context.progress.stage("commit", f"{written} files written under {store.definitions_dir}{kept}")
    return {"tasks": tasks}
