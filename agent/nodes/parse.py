"""Node: interpret the model's SGLang classes into an inventory, per parallel profile."""

from __future__ import annotations

import time

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.state import ExtractionState
from tools.errors import ProfileError
from tools.model_parser.inventory import parse_model
from tools.model_parser.runtime import ParallelProfile


def parse_source(state: ExtractionState, runtime: Runtime[AgentContext]) -> dict:
    model, source = state.model, state.sglang
    assert model is not None and source is not None
    index = runtime.context.source_index(source)
    inventories = []
    combos = [(tp, ep) for tp in model.profile.tp for ep in model.profile.ep if tp % ep == 0]
    if not combos:
        raise ProfileError(
            f"No EP in {model.profile.ep} divides a TP in {model.profile.tp}: SGLang splits experts within the TP group.",
            hint="Use --ep values that divide --tp.",
        )
    skipped = [(tp, ep) for tp in model.profile.tp for ep in model.profile.ep if (tp, ep) not in combos]
    if skipped:
        runtime.context.progress.stage("parse", "skipping profiles where EP does not divide TP: " + ", ".join(f"tp={t} ep={e}" for t, e in skipped))
    for tp in model.profile.tp:
        for ep in model.profile.ep:
            if (tp, ep) not in combos:
                continue
            started = time.monotonic()
            inventory = parse_model(index, model.model_class.module, model.model_class.architecture, model.config, ParallelProfile(tp=tp, ep=ep))
            if inventory.failures:
                raise ProfileError(
                    f"{model.display_name} cannot be built at TP={tp}, EP={ep}: " + "; ".join(inventory.failures[:3]),
                    hint="Choose --tp/--ep values the model's head and expert counts divide by.",
                )
            runtime.context.progress.stage(
                "parse",
                f"tp={tp} ep={ep}: {inventory.num_layers} layers, {len(inventory.components)} components, "
                f"{len(inventory.unknown)} unknown ({time.monotonic() - started:.1f}s)",
            )
            inventories.append(inventory)
            if ep == model.profile.ep[0] and not inventory.of_kind("moe"):
                break  # no experts: other EP sizes give the same model
    return {"inventories": inventories}
