"""Node: find SGLang's sources (and check the output can be written, before any work)."""

from __future__ import annotations

from pathlib import Path

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import ExtractionState
from tools.dedup_store import check_writable
from tools.source_locator import locate_sglang


def locate_source(state: ExtractionState, runtime: Runtime[AgentContext]) -> dict:
    request = state.request
    if not request.dry_run:
        check_writable(Path(request.output_root))
    source = locate_sglang(
        Path(request.sglang_path) if request.sglang_path else None,
        version=request.sglang_version,
        cache_dir=runtime.context.cache_dir,
        allow_download=request.allow_download,
    )
    runtime.context.progress.stage("locate", f"SGLang {source.version} ({source.origin}) at {source.root}")
    return {"sglang": source}
