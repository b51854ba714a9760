"""Each model through the extraction graph, exactly as `agent extract` runs it.

Every model is extracted into its own workspace: a fresh copy of the dataset's
definitions, so its store decisions (new, existing, shared, conflict) are relative to the
dataset itself, whichever model ran first, and models can run in parallel processes
(`--jobs`). A model that did not finish is extracted again in a new workspace, so a
worker orphaned by a kill never writes into the one a resumed run reads. The dataset
checkout itself is never written (a dry run reads it directly and writes nothing).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import traceback
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, Field

from agent.batch.models import BatchModel
from agent.context import AgentContext
from agent.progress import Progress
from agent.report import build_report
from agent.state import ExtractRequest
from tools.dedup_store import StoreDecision
from tools.errors import ExtractionError


class ExtractionOptions(BaseModel):
    verify: str = "auto"
    """The extraction's own reference checks (`agent extract --verify`)."""
    sglang_path: str | None = None
    sglang_version: str | None = None
    allow_download: bool = True
    cache_dir: str | None = None
    dry_run: bool = False


class ExtractionJob(BaseModel):
    model: BatchModel
    dataset: str
    workspace: str
    """Where the model's store lives: a copy of the dataset's definitions (the dataset itself in a dry run)."""
    options: ExtractionOptions


class DefinitionOutcome(BaseModel):
    """One kernel that reached the store: what the store decided."""

    name: str
    action: str
    """`new`, `existing`, `shared` or `conflict` (`tools.dedup_store.StoreDecision`)."""
    op_type: str
    path: str
    """The dataset's file: written, tagged, left alone, or (on a conflict) the other kernel's."""
    added_tags: list[str] = Field(default_factory=list)
    differences: list[str] = Field(default_factory=list)
    origin: str = "template"
    definition: dict[str, Any] | None = None
    """The definition as planned (dry runs bundle it from here; real runs read the stored file)."""


class ModelOutcome(BaseModel):
    slug: str
    display_name: str = ""
    hf_repo_id: str | None = None
    tp: list[int] = Field(default_factory=list)
    ep: list[int] = Field(default_factory=list)
    sglang_version: str | None = None
    workspace: str = ""
    exit_status: int | None = None
    definitions: list[DefinitionOutcome] = Field(default_factory=list)
    pending: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    report_path: str | None = None
    error: str | None = None
    """Why the model produced nothing (unknown to SGLang, bad config, a bug)."""
    seconds: float = 0.0

    def of(self, action: str) -> list[DefinitionOutcome]:
        return [d for d in self.definitions if d.action == action]


def new_workspace(run_dir: Path, model: BatchModel, dataset: Path) -> Path:
    """A fresh copy of the dataset's definitions for one extraction attempt of `model`."""
    workspace = Path(run_dir) / "models" / model.slug / uuid.uuid4().hex[:8]
    source = Path(dataset) / "definitions"
    if source.is_dir():
        shutil.copytree(source, workspace / "definitions", ignore=shutil.ignore_patterns(".lock", ".*.tmp"))
    else:
        (workspace / "definitions").mkdir(parents=True)
    return workspace


def extract_model(job: ExtractionJob, context: AgentContext | None = None) -> ModelOutcome:
    """Run the extraction graph for one model; never raises (errors become the outcome's `error`)."""
    from agent.commands.extract import _run_graph  # the same entry `agent extract` runs

    context = context or _worker_context(job.options)
    started = time.monotonic()
    model, options = job.model, job.options
    request = ExtractRequest(
        model_name=model.name,
        tp=model.tp,
        ep=model.ep,
        output_root=job.workspace,
        dry_run=options.dry_run,
        sglang_path=options.sglang_path,
        sglang_version=options.sglang_version,
        allow_download=options.allow_download,
        verify=options.verify,
    )
    try:
        state = _run_graph(request, context, resume=False)
        report = build_report(state, **context.llm_identity())
    except ExtractionError as exc:
        return ModelOutcome(slug=model.slug, workspace=job.workspace, error=exc.message + (f" ({exc.hint})" if exc.hint else ""), seconds=time.monotonic() - started)
    except Exception as exc:  # a bug in one model must not lose the others' work
        trace = traceback.format_exc(limit=4)
        return ModelOutcome(slug=model.slug, workspace=job.workspace, error=f"internal error: {type(exc).__name__}: {exc}\n{trace}", seconds=time.monotonic() - started)
    definitions = [
        definition_outcome(task.decision, task.definition, origin=task.origin, keep_definition=options.dry_run) for task in state.tasks if task.decision is not None
    ]
    return ModelOutcome(
        slug=report.model,
        display_name=report.display_name,
        hf_repo_id=state.model.hf_repo_id if state.model else None,
        tp=report.tp,
        ep=report.ep,
        sglang_version=report.sglang_version,
        workspace=job.workspace,
        exit_status=report.exit_status,
        definitions=definitions,
        pending=[f"{e.name}: {e.note}" for e in report.of("pending")],
        failed=[f"{e.name}: {e.note or e.check}" for e in report.of("failed")],
        report_path=state.report_path,
        seconds=time.monotonic() - started,
    )


def definition_outcome(decision: StoreDecision, definition: dict[str, Any], *, origin: str = "template", keep_definition: bool = False) -> DefinitionOutcome:
    """What the store decided for one definition."""
    return DefinitionOutcome(
        name=decision.name,
        action=decision.action,
        op_type=definition["op_type"],
        path=decision.path,
        added_tags=decision.added_tags,
        differences=decision.differences,
        origin=origin,
        definition=definition if keep_definition else None,
    )


def extract_models(jobs: list[ExtractionJob], workers: int, on_done: Callable[[ModelOutcome], None]) -> None:
    """Extract every job, `workers` at a time; `on_done` gets each outcome as it arrives."""
    if workers <= 1 or len(jobs) <= 1:
        context = _worker_context(jobs[0].options) if jobs else None
        for job in jobs:
            on_done(extract_model(job, context))
        return
    # The costliest models first, so that no worker starts a long one when the others are done.
    ordered = sorted(jobs, key=lambda job: expected_cost(job.model.slug), reverse=True)
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=_start_method()) as pool:
        futures = [pool.submit(extract_model, job) for job in ordered]
        try:
            for future in as_completed(futures):
                on_done(future.result())
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def expected_cost(slug: str) -> tuple[bool, int]:
    """Interpreting a MoE or hybrid model costs far more than a dense one, and more layers
    more: a rank, from the catalog's shipped config (no timing involved)."""
    from tools.model_registry.catalog import Catalog

    entry = Catalog.load().find(slug)
    if entry is None:
        return (False, 0)
    text = entry.config_path.read_text(encoding="utf-8")
    config = json.loads(text)
    layers = config.get("num_hidden_layers") or (config.get(entry.text_config_key or "", {}) or {}).get("num_hidden_layers") or 0
    return ("expert" in text, int(layers))


def _start_method():
    """fork when it is safe, so workers start with the graph, FlashInfer's templates and
    flashinfer-bench already imported (seconds per worker); spawn once CUDA is initialised."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return get_context("spawn")
    import flashinfer  # noqa: F401 - the definition builder's templates
    import flashinfer_bench.data  # noqa: F401 - definitions are validated with it

    import agent.commands.extract  # noqa: F401
    import agent.graph  # noqa: F401

    return get_context("fork")


_CONTEXTS: dict[str, AgentContext] = {}


def _worker_context(options: ExtractionOptions) -> AgentContext:
    """One context per worker process: the SGLang files it parsed serve every model it extracts."""
    key = options.model_dump_json()
    if key not in _CONTEXTS:
        _CONTEXTS[key] = AgentContext(progress=Progress(quiet=True), cache_dir=Path(options.cache_dir) if options.cache_dir else None)
    return _CONTEXTS[key]
