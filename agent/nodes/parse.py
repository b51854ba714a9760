"""Node: interpret the model's SGLang classes into an inventory, per parallel profile."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import ExtractionState
from tools.model_parser.profiles import parse_profiles


def parse_source(state: ExtractionState, runtime: Runtime[AgentContext]) -> dict:
    model, source = state.model, state.sglang
    assert model is not None and source is not None
    parsed = parse_profiles(runtime.context.source_index(source), model)
    progress = runtime.context.progress
    if parsed.skipped:
        progress.stage("parse", "skipping profiles where EP does not divide TP: " + ", ".join(f"tp={t} ep={e}" for t, e in parsed.skipped))
    for inventory, seconds in zip(parsed.inventories, parsed.seconds):
        progress.stage(
            "parse",
            f"tp={inventory.tp} ep={inventory.ep}: {inventory.num_layers} layers, {len(inventory.components)} components, "
            f"{len(inventory.unknown)} unknown ({seconds:.1f}s)",
        )
    return {"inventories": parsed.inventories}
