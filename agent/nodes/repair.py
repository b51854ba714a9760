"""Node: ask the LLM to repair the next definition whose reference failed verification."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import ExtractionState


def repair_with_llm(state: ExtractionState, runtime: Runtime[AgentContext]) -> dict:
    from agent.drafting import repair_tasks

    return repair_tasks(state, runtime.context).state_update()
