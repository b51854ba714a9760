"""Node: check every drafted definition's reference before anything is committed.

Every reference passes the static check first (`tools/verification/verifier.py`); the
rest run in the verifier the request asks for (the sandboxed CPU check today). A failed
check keeps its report, which the repair node quotes to the LLM.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import CheckRecord, ExtractionState
from tools.verification.verifier import describe_failure, verify_definitions


def verify_drafts(state: ExtractionState, runtime: Runtime[AgentContext]) -> dict:
    drafted = [t for t in state.tasks if t.status == "drafted"]
    if not drafted:
        return {}
    progress = runtime.context.progress
    if state.request.verify == "none":
        progress.stage("verify", f"skipped for {len(drafted)} definitions (--verify none); committed as unverified")
        return {"tasks": [t.model_copy(update={"status": "unchecked"}) if t.status == "drafted" else t for t in state.tasks]}
    progress.stage("verify", f"checking {len(drafted)} references ({state.request.verify}; untrusted code runs in a sandboxed subprocess)")
    results = verify_definitions([t.definition for t in drafted], state.request.verify, limits=runtime.context.sandbox)
    tasks = []
    for task in state.tasks:
        if task.status != "drafted":
            tasks.append(task)
            continue
        result = results[task.definition["name"]]
        attempt = max(task.attempts, 1)
        if result.skipped:
            status, summary = "unchecked", result.skipped
        elif result.passed:
            status, summary = "passed", result.summary or "passed"
        else:
            status, summary = "failed", result.error or "failed"
        report = describe_failure(result) if status == "failed" else None
        record = CheckRecord(attempt=attempt, passed=result.passed, summary=summary, details=result.model_dump(), report=report)
        tasks.append(task.model_copy(update={"status": status, "checks": task.checks + [record]}))
        if status == "failed":
            of = f" (attempt {attempt} of {runtime.context.max_llm_attempts})" if task.origin == "llm" else ""
            progress.warn(f"{task.definition['name']}{of}: {summary}")
    return {"tasks": tasks}
