"""Node: have the LLM draft the next kernel no template covers (one kernel per step)."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import ExtractionState


def draft_with_llm(state: ExtractionState, runtime: Runtime[AgentContext]) -> dict:
    waiting = [t for t in state.tasks if t.status == "needs_llm"]
    if not waiting or state.llm_stopped:
        return {}
    if runtime.context.llm is None:
        runtime.context.progress.stage(
            "draft", f"{len(waiting)} kernels need an LLM draft; no endpoint configured (--llm-model, --llm-base-url), left pending"
        )
        return {}
    if state.request.dry_run:  # a dry run spends nothing either
        runtime.context.progress.stage("draft", f"{len(waiting)} kernels would be drafted by {runtime.context.llm.settings.model} (--dry-run: not asked)")
        return {}
    from agent.drafting import draft_tasks

    return draft_tasks(state, runtime.context).state_update()
