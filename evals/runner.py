"""Run the real extraction for each model: the compiled agent graph, as `agent extract` runs it.

Each model is extracted into an empty temporary dataset, deleted afterwards: no real
dataset is touched, every definition counts as new, and every one goes through the verify
node's reference checks (the `verify` option picks how, exactly as for `agent extract`).

`run_merge` then extracts the same models, in catalog order, into one temporary dataset
holding the official definitions (`dataset_fixture.py`) and scores what that did to it
(`merge.py`).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict

from agent.context import AgentContext
from agent.graph import build_graph
from agent.progress import Progress
from agent.report import build_report
from agent.state import ExtractionState, ExtractRequest, KernelTask
from evals.dataset_fixture import write_fixture
from evals.merge import MergeScore, score_merge, snapshot
from evals.scoring import CheckOutcome, ExtractedDefinition, ModelRun
from evals.truth import ModelTruth, Signature
from tools.errors import ExtractionError
from tools.model_registry.catalog import Catalog


class EvalOptions(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    verify: str = "auto"
    """Reference checks, as `agent extract --verify`: any mode the extraction supports."""
    sglang_path: str | None = None
    sglang_version: str | None = None
    allow_download: bool = True
    cache_dir: str | None = None
    """Where downloaded SGLang sources are kept (default: the user cache)."""


def make_context(options: EvalOptions, *, llm: Any = None) -> AgentContext:
    """One context for the whole eval: parsed SGLang sources are shared across models."""
    return AgentContext(progress=Progress(quiet=True), cache_dir=Path(options.cache_dir) if options.cache_dir else None, llm=llm)


def run_models(
    truths: list[ModelTruth],
    options: EvalOptions,
    context: AgentContext,
    on_result: Callable[[int, ModelRun], None] | None = None,
) -> list[ModelRun]:
    graph = build_graph().compile()
    runs = []
    for index, truth in enumerate(truths, 1):
        run = run_model(graph, context, truth, options)
        runs.append(run)
        if on_result:
            on_result(index, run)
    return runs


def _request(truth: ModelTruth, options: EvalOptions, root: str, *, verify: str) -> ExtractRequest:
    return ExtractRequest(
        model_name=truth.model,
        config_path=truth.config,
        tp=truth.tp,
        ep=truth.ep,
        output_root=root,
        # A real run into a throwaway dataset: a dry run would skip the LLM stage.
        dry_run=False,
        verify=verify,
        sglang_path=options.sglang_path,
        sglang_version=options.sglang_version,
        allow_download=options.allow_download,
    )


def run_merge(truths: list[ModelTruth], signatures: dict[str, Signature], options: EvalOptions, context: AgentContext) -> MergeScore:
    """Extract the models, in catalog order, into the official definitions; score the merge.

    References are not checked here (the first pass does): the merge is the store's work."""
    order = {entry.slug: i for i, entry in enumerate(Catalog.load().models)}
    graph = build_graph().compile()
    conflicts = []
    with tempfile.TemporaryDirectory(prefix="agent-eval-merge-") as root:
        write_fixture(Path(root), signatures)
        before = snapshot(Path(root))
        for truth in sorted(truths, key=lambda t: order.get(t.model, len(order))):
            try:
                final = graph.invoke(ExtractionState(request=_request(truth, options, root, verify="none")), context=context)
            except ExtractionError as exc:
                conflicts.append(f"{truth.model}: the extraction stopped: {exc.message}")
                continue
            report = build_report(ExtractionState.model_validate(final))
            conflicts += [f"{e.name} ({truth.model}): " + "; ".join(e.differences) for e in report.of("conflict")]
        return score_merge(before, snapshot(Path(root)), models=len(truths), conflicts=conflicts)


def run_model(graph: Any, context: AgentContext, truth: ModelTruth, options: EvalOptions) -> ModelRun:
    """Extract `truth.model` at the profile its ground truth is written for."""
    with tempfile.TemporaryDirectory(prefix="agent-eval-") as empty_dataset:
        request = _request(truth, options, empty_dataset, verify=options.verify)
        started = time.monotonic()
        try:
            final = graph.invoke(ExtractionState(request=request), context=context)
        except ExtractionError as exc:
            return ModelRun(model=truth.model, tp=truth.tp, ep=truth.ep, seconds=time.monotonic() - started, error=exc.message)
        seconds = time.monotonic() - started
    state = ExtractionState.model_validate(final)
    report = build_report(state)
    return ModelRun(
        model=truth.model,
        tp=truth.tp,
        ep=truth.ep,
        seconds=seconds,
        sglang_version=report.sglang_version,
        definitions=[_extracted(task) for task in state.tasks if task.definition is not None],
        pending=[f"{entry.name} — {entry.note}" for entry in report.of("pending")],
    )


def _extracted(task: KernelTask) -> ExtractedDefinition:
    last = task.checks[-1] if task.checks else None
    return ExtractedDefinition(
        name=task.definition["name"],
        definition=task.definition,
        origin=task.origin,
        components=task.spec.components if task.spec else ([task.pending.path] if task.pending else []),
        check=_check_outcome(task),
        check_summary=last.summary if last else None,
        attempts=task.attempts,
        tokens=_llm_tokens(task),
    )


def _check_outcome(task: KernelTask) -> CheckOutcome | None:
    if not task.checks:
        return None
    last = task.checks[-1]
    if last.passed:
        return "passed"
    # A definition too large for a CPU check is left for the GPU: the check says so in its
    # details. The task's status cannot tell: committing it replaces "unchecked".
    return "skipped" if last.details.get("skipped") else "failed"


def _llm_tokens(task: KernelTask) -> int | None:
    """Tokens the LLM spent drafting and repairing `task`; None for template definitions."""
    return task.llm_usage.total_tokens if task.origin == "llm" else None
