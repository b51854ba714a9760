"""Node: model name -> SGLang model class, config and serving profile."""

from __future__ import annotations

from pathlib import Path

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import ExtractionState
from tools.model_registry.resolver import ModelResolver
from tools.source_locator import default_cache_dir


def resolve_model(state: ExtractionState, runtime: Runtime[AgentContext]) -> dict:
    request = state.request
    assert state.sglang is not None
    hub_cache = (runtime.context.cache_dir or default_cache_dir()) if request.allow_download else None
    resolver = ModelResolver(state.sglang, hub_cache=hub_cache)
    model = resolver.resolve(request.model_name, config_path=Path(request.config_path) if request.config_path else None)
    profile = model.profile.model_copy(
        update={k: v for k, v in (("tp", request.tp), ("ep", request.ep), ("page_sizes", request.page_sizes)) if v}
    )
    model = model.model_copy(update={"profile": profile})
    progress = runtime.context.progress
    progress.stage(
        "resolve",
        f"{model.display_name} -> {model.model_class.file}:{model.architecture} "
        f"(tp={profile.tp}, ep={profile.ep}, page sizes={profile.page_sizes}); chosen by {model.chosen_because}",
    )
    if model.other_matches:
        progress.stage("resolve", "also matched: " + ", ".join(model.other_matches))
    for other in model.other_classes:
        progress.stage("resolve", f"{other.file} also declares {other.architecture}; using {model.model_class.file}")
    return {"model": model}
