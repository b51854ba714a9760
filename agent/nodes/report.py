"""Node: assemble the extraction report and write it as JSON next to the dataset."""

from __future__ import annotations

import time
from pathlib import Path

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.report import build_report
from agent.state import ExtractionState
from tools.dedup_store import write_json_atomic


def write_report(state: ExtractionState, runtime: Runtime[AgentContext]) -> dict:
    report = build_report(state, **runtime.context.llm_identity())
    if state.request.dry_run:
        return {}
    request = state.request
    if request.report_path:
        path = Path(request.report_path)
    else:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = Path(request.output_root) / "reports" / f"extract-{report.model}-{stamp}.json"
    write_json_atomic(path, report.model_dump(mode="json"))
    runtime.context.progress.stage("report", f"written to {path}")
    return {"report_path": str(path)}
