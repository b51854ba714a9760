"""The extraction agent as a LangGraph state machine: a table of contents.

    locate -> resolve -> parse -> plan -> build -> dedup -> draft -> verify
    draft --(more kernels wait for a draft)--> draft
    verify --(failed LLM drafts, attempts left)--> repair
    repair --(more failed drafts)--> repair
    repair --> verify
    verify --> commit -> report

Every node is a small function in `agent/nodes/`; the work is done by the deterministic
tools in `tools/` (and, for draft/repair, by the LLM client in `agent/llm.py`).
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from agent.context import AgentContext
from agent.nodes.build import build_definitions
from agent.nodes.commit import commit_definitions
from agent.nodes.dedup import deduplicate
from agent.nodes.draft import draft_with_llm
from agent.nodes.locate import locate_source
from agent.nodes.parse import parse_source
from agent.nodes.plan import plan_kernel_tasks
from agent.nodes.repair import repair_with_llm
from agent.nodes.report import write_report
from agent.nodes.resolve import resolve_model
from agent.nodes.verify import verify_drafts
from agent.routes import after_draft, after_repair, after_verify
from agent.state import ExtractionState


def build_graph() -> StateGraph:
    graph = StateGraph(ExtractionState, context_schema=AgentContext)
    graph.add_node("locate", locate_source)
    graph.add_node("resolve", resolve_model)
    graph.add_node("parse", parse_source)
    graph.add_node("plan", plan_kernel_tasks)
    graph.add_node("build", build_definitions)
    graph.add_node("dedup", deduplicate)
    graph.add_node("draft", draft_with_llm)
    graph.add_node("verify", verify_drafts)
    graph.add_node("repair", repair_with_llm)
    graph.add_node("commit", commit_definitions)
    graph.add_node("report", write_report)

    graph.add_edge(START, "locate")
    graph.add_edge("locate", "resolve")
    graph.add_edge("resolve", "parse")
    graph.add_edge("parse", "plan")
    graph.add_edge("plan", "build")
    graph.add_edge("build", "dedup")
    graph.add_edge("dedup", "draft")
    graph.add_conditional_edges("draft", after_draft, ["draft", "verify"])
    graph.add_conditional_edges("verify", after_verify, ["repair", "commit"])
    graph.add_conditional_edges("repair", after_repair, ["repair", "verify"])
    graph.add_edge("commit", "report")
    graph.add_edge("report", END)
    return graph


def mermaid() -> str:
    return build_graph().compile().get_graph().draw_mermaid()
