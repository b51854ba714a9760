"""The batch sequence: extract every model, verify the new definitions once, plan the
bundles, publish them; the state is saved after every step.

The run lives in `<dataset>/.agent/batch/<run id>/` (the id is a hash of what decides the
extraction: models, profiles, checks, SGLang source), so `--resume` with the same models
continues it: finished models are not extracted again, recorded verdicts are reused, and
publishing looks every pull request up before opening one. Without `--resume` a run
starts afresh. `.agent/` carries a `.gitignore` of `*`, so nothing of it is ever committed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from pydantic import BaseModel, Field

from agent.batch.extraction import ExtractionJob, ExtractionOptions, ModelOutcome, extract_models, new_workspace
from agent.batch.models import BatchModel
from agent.batch.planning import Group, Plan, PlanOptions, plan_bundles
from agent.batch.publishing import Backends, publish_bundles
from agent.batch.summary import BatchSummary, build_summary
from agent.batch.verification import VerifyMode, merge_candidates, verify_candidates, write_candidates
from agent.progress import Progress
from tools.dedup_store import write_json_atomic
from tools.errors import OutputError
from tools.publish.pr_text import ModelInfo, Provenance, dataset_title
from tools.publish.reference_test import generate_reference_test
from tools.publish.state import BatchState, ModelRecord, StateFile

AGENT_DIR = ".agent"


class BatchRequest(BaseModel):
    models: list[BatchModel]
    dataset: str
    publish: list[str] = Field(default_factory=list)
    """Backends: `local`, `hf`, `github` (none: plan and report only)."""
    group: Group = "per-definition"
    allow_unverified: bool = False
    workloads: str | None = None
    verify: VerifyMode = "auto"
    jobs: int = 1
    dry_run: bool = False
    resume: bool = False
    extraction: ExtractionOptions = Field(default_factory=ExtractionOptions)

    def run_id(self) -> str:
        decisive = {"models": [m.model_dump() for m in self.models], "verify": self.verify,
                    "extraction": self.extraction.model_dump(exclude={"cache_dir", "allow_download", "dry_run"})}
        return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()[:12]


def run_batch(request: BatchRequest, backends: Backends, progress: Progress) -> BatchSummary:
    dataset = Path(request.dataset)
    if not (dataset / "definitions").is_dir():
        raise OutputError(f"{dataset} has no definitions/ directory: not a flashinfer-trace dataset.", hint="Pass --dataset a checkout of the flashinfer-trace dataset.")
    if request.dry_run:
        return _dry_run(request, progress)
    run_dir = dataset / AGENT_DIR / "batch" / request.run_id()
    state_file = StateFile(run_dir / "state.json")
    state = state_file.load() if request.resume else None
    if request.resume and state is None:
        progress.warn(f"no earlier run of these models in {run_dir}; starting from the beginning")
    if state is None:
        shutil.rmtree(run_dir, ignore_errors=True)
        _ignore_agent_dir(dataset)
        state = BatchState(request=json.loads(request.model_dump_json(exclude={"resume", "dry_run"})))

    def save() -> None:
        state_file.save(state)

    save()
    outcomes = _extract(request, run_dir, state, save, progress)
    candidates = merge_candidates([o for o in outcomes if not o.error])
    store = write_candidates(run_dir / "candidates", candidates)
    if not state.verification_done:
        names = sorted(n for n, c in candidates.items() if c.conflict is None)
        state.verdicts, state.environment = verify_candidates(store, names, request.verify, progress)
        state.verification_done = True
        save()
    plan = plan_bundles(dataset, outcomes, candidates, run_dir / "candidates", state.verdicts, generate_reference_test,
                        PlanOptions(group=request.group, allow_unverified=request.allow_unverified, workloads=Path(request.workloads) if request.workloads else None))
    provenance = _provenance(request, outcomes, state)
    if backends.dataset or backends.github:
        publish_bundles(plan.bundles, backends, state, save, provenance, progress)
    summary = _summary(request, str(run_dir), outcomes, plan, state)
    write_json_atomic(run_dir / "summary.json", summary.model_dump(mode="json"))
    return summary


def _extract(request: BatchRequest, run_dir: Path, state: BatchState, save, progress: Progress) -> list[ModelOutcome]:
    todo = [m for m in request.models if m.slug not in state.models or state.models[m.slug].status != "extracted"]
    done = len(request.models) - len(todo)
    if done:
        progress.stage("resume", f"{done} models already extracted in {run_dir}")
    jobs = [ExtractionJob(model=m, dataset=request.dataset, workspace=str(new_workspace(run_dir, m, Path(request.dataset))), options=request.extraction) for m in todo]
    if jobs:
        state.verification_done = False  # new extractions: their definitions need verdicts too
        progress.stage("extract", f"{len(jobs)} models, {min(request.jobs, len(jobs))} at a time")

    def on_done(outcome: ModelOutcome) -> None:
        nonlocal done
        done += 1
        state.models[outcome.slug] = ModelRecord(slug=outcome.slug, status="failed" if outcome.error else "extracted", outcome=outcome.model_dump(mode="json"))
        save()
        progress.item("extract", done, len(request.models), _describe(outcome))

    extract_models(jobs, request.jobs, on_done)
    return [ModelOutcome.model_validate(state.models[m.slug].outcome) for m in request.models]


def _dry_run(request: BatchRequest, progress: Progress) -> BatchSummary:
    """Extraction in dry-run mode against the dataset itself: decisions, bundles, titles; no writes, no requests."""
    options = request.extraction.model_copy(update={"dry_run": True})
    jobs = [ExtractionJob(model=m, dataset=request.dataset, workspace=request.dataset, options=options) for m in request.models]
    outcomes: list[ModelOutcome] = []

    def on_done(outcome: ModelOutcome) -> None:
        outcomes.append(outcome)
        progress.item("extract", len(outcomes), len(jobs), _describe(outcome))

    extract_models(jobs, request.jobs, on_done)
    order = {m.slug: i for i, m in enumerate(request.models)}
    outcomes.sort(key=lambda o: order.get(o.slug, len(order)))
    candidates = merge_candidates([o for o in outcomes if not o.error])
    plan = plan_bundles(Path(request.dataset), outcomes, candidates, Path(request.dataset), {}, generate_reference_test,
                        PlanOptions(group=request.group, allow_unverified=request.allow_unverified, dry_run=True))
    return _summary(request, None, outcomes, plan, None)


def _summary(request: BatchRequest, run_dir: str | None, outcomes: list[ModelOutcome], plan: Plan, state: BatchState | None) -> BatchSummary:
    titles = {p.bundle.id: dataset_title(p.bundle) for p in plan.bundles}
    return build_summary(request.dataset, run_dir, request.dry_run, request.publish, outcomes, plan, titles, state)


def _describe(outcome: ModelOutcome) -> str:
    if outcome.error:
        return f"{outcome.slug}: FAILED: {outcome.error.splitlines()[0]}"
    counts = ", ".join(f"{len(outcome.of(a))} {a}" for a in ("new", "shared", "existing", "conflict"))
    return f"{outcome.slug}: {counts}, {len(outcome.pending)} pending ({outcome.seconds:.1f}s)"


def _provenance(request: BatchRequest, outcomes: list[ModelOutcome], state: BatchState) -> Provenance:
    environment = state.environment or {}
    slugs = ",".join(o.slug for o in outcomes)
    return Provenance(
        agent_commit=_agent_commit(),
        sglang=next((o.sglang_version for o in outcomes if o.sglang_version), None),
        flashinfer=environment.get("flashinfer"),
        torch=environment.get("torch"),
        gpu=environment.get("gpu_name"),
        verify_command=f"agent batch --models {slugs} --dataset <a flashinfer-trace checkout> --publish none",
        models={o.slug: ModelInfo(slug=o.slug, display_name=o.display_name or o.slug, hf_repo_id=o.hf_repo_id, tp=o.tp, ep=o.ep) for o in outcomes if not o.error},
        verdicts=state.verdicts,
    )


def _agent_commit() -> str | None:
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() or None if result.returncode == 0 else None


def _ignore_agent_dir(dataset: Path) -> None:
    """`.agent/` holds run state, never dataset content: keep it out of every commit."""
    ignore = dataset / AGENT_DIR / ".gitignore"
    if not ignore.exists():
        try:
            ignore.parent.mkdir(parents=True, exist_ok=True)
            ignore.write_text("*\n", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"Cannot write under {dataset}: {exc.strerror}.", hint="Pass --dataset a writable checkout.") from exc



