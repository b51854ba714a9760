"""Node: check every drafted definition's reference before anything is committed."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import CheckRecord, ExtractionState
from tools.verification.reference_check import check_references


def verify_drafts(state: ExtractionState, runtime: Runtime[AgentContext]) -> dict:
    drafted = [t for t in state.tasks if t.status == "drafted"]
    if not drafted:
        return {}
    progress = runtime.context.progress
    if state.request.verify == "none":
        progress.stage("verify", f"skipped for {len(drafted)} definitions (--verify none); committed as unverified")
        return {"tasks": [t.model_copy(update={"status": "unchecked"}) if t.status == "drafted" else t for t in state.tasks]}
    progress.stage("verify", f"running {len(drafted)} references on the CPU (sandboxed subprocess)")
    results = check_references([t.definition for t in drafted], limits=runtime.context.sandbox)
    tasks = []
    for task in state.tasks:
        if task.status != "drafted":
            tasks.append(task)
            continue
        result = results[task.definition["name"]]
        attempt = task.attempts + 1
        if result.skipped:
            status, summary = "unchecked", result.skipped
        elif result.passed:
            status, summary = "passed", f"reference ran on {len(result.cases)} CPU cases: shapes, dtypes, finite, deterministic"
        else:
            status, summary = "failed", result.error or "failed"
        record = CheckRecord(attempt=attempt, passed=result.passed, summary=summary, details=result.model_dump())
        tasks.append(task.model_copy(update={"status": status, "attempts": attempt, "checks": task.checks + [record]}))
        if status == "failed":
            progress.warn(f"{task.definition['name']}: {summary}")
    return {"tasks": tasks}
