"""Node: have the LLM draft definitions for kernels no template covers."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import ExtractionState


def draft_with_llm(state: ExtractionState, runtime: Runtime[AgentContext]) -> dict:
    waiting = [t for t in state.tasks if t.status == "needs_llm"]
    if not waiting:
        return {}
    if runtime.context.llm is None:
        runtime.context.progress.stage(
            "draft", f"{len(waiting)} kernels need an LLM draft; no endpoint configured (--llm-base-url), left pending"
        )
        return {}
    from agent.drafting import draft_tasks

    return {"tasks": draft_tasks(state, runtime.context)}
