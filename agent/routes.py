"""Routing functions: the graph's only branches, with their legal targets in the signature.

Each LLM exchange is its own step (draft -> draft, repair -> repair), so a checkpoint
follows every one. The loops end: each step drafts a waiting kernel or spends one of a
failed kernel's bounded attempts, and a stopped LLM stage ends both.
"""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import ExtractionState


def after_draft(state: ExtractionState, runtime: Runtime[AgentContext]) -> Literal["draft", "verify"]:
    """Draft the next kernel that waits for one, while the LLM stage runs; else verify."""
    if runtime.context.llm is None or state.llm_stopped or state.request.dry_run:
        return "verify"
    return "draft" if any(t.status == "needs_llm" for t in state.tasks) else "verify"


def after_verify(state: ExtractionState, runtime: Runtime[AgentContext]) -> Literal["repair", "commit"]:
    """Repair LLM-drafted definitions that failed, while attempts are left; else commit."""
    return "repair" if _any_repairable(state, runtime.context) else "commit"


def after_repair(state: ExtractionState, runtime: Runtime[AgentContext]) -> Literal["repair", "verify"]:
    """Repair the next failed draft; verify once none is left to repair."""
    return "repair" if _any_repairable(state, runtime.context) else "verify"


def _any_repairable(state: ExtractionState, context: AgentContext) -> bool:
    if context.llm is None or state.llm_stopped:
        return False
    from agent.drafting import is_repairable

    return any(is_repairable(t, context) for t in state.tasks)
