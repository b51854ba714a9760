"""Node: ask the LLM to repair definitions whose reference failed verification."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import ExtractionState


def repair_with_llm(state: ExtractionState, runtime: Runtime[AgentContext]) -> dict:
    from agent.drafting import repair_tasks

    return {"tasks": repair_tasks(state, runtime.context)}
