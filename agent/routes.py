"""Routing functions: the graph's only branches, with their legal targets in the signature."""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import ExtractionState


def after_verify(state: ExtractionState, runtime: Runtime[AgentContext]) -> Literal["repair", "commit"]:
    """Repair LLM-drafted definitions that failed, while attempts are left; else commit."""
    if runtime.context.llm is None:
        return "commit"
    limit = runtime.context.max_repair_attempts
    repairable = [t for t in state.tasks if t.status == "failed" and t.origin == "llm" and t.attempts < limit]
    return "repair" if repairable else "commit"
