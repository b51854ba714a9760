"""The extraction report: what was written, shared, skipped or left pending, and why."""

from __future__ import annotations

import shlex
from typing import Literal

from pydantic import BaseModel, Field

from agent import exit_codes
from agent.state import ExtractionState, ExtractRequest, KernelTask, TokenUsage
from tools.dataset_conventions import departure_for
from tools.kernel_spec import SkippedComponent

Outcome = Literal["new", "existing", "shared", "conflict", "pending", "failed"]


class ReportEntry(BaseModel):
    name: str
    """Definition name; the component path for pending kernels."""
    outcome: Outcome
    op_type: str | None = None
    path: str | None = None
    """The dataset file written, tagged or left alone."""
    differences: list[str] = Field(default_factory=list)
    """Conflicts: what makes the dataset's definition of the name another kernel."""
    convention_differences: list[str] = Field(default_factory=list)
    """Existing, shared and conflicting definitions: how the dataset's signature differs from
    the extraction's in conventions only (the dataset's file is what counts)."""
    proposal_path: str | None = None
    """Conflicts: where the extraction's definition was kept for review (not in the dataset)."""
    origin: str
    check: str | None = None
    """The last verification result."""
    components: list[str] = Field(default_factory=list)
    note: str | None = None
    llm_attempts: int | None = None
    """LLM drafts made for this kernel (LLM-drafted kernels only)."""
    llm_usage: TokenUsage | None = None
    """Tokens (and cost, when priced) spent on this kernel."""


class DatasetNote(BaseModel):
    """A definition the target dataset tags for this model that this run does not produce."""

    name: str
    note: str


class LLMSummary(BaseModel):
    """The LLM stage of the run."""

    model: str | None = None
    """None when no endpoint was configured."""
    endpoint: str | None = None
    usage: TokenUsage = Field(default_factory=TokenUsage)
    stopped: str | None = None
    """Why the stage stopped early, if it did."""


class ExtractionReport(BaseModel):
    model: str
    display_name: str
    architecture: str
    model_file: str
    config_source: str
    chosen_because: str
    other_matches: list[str] = Field(default_factory=list)
    sglang_version: str
    sglang_origin: str
    tp: list[int]
    ep: list[int]
    page_sizes: list[int]
    dry_run: bool
    entries: list[ReportEntry] = Field(default_factory=list)
    skipped_components: list[SkippedComponent] = Field(default_factory=list)
    conditional_components: list[str] = Field(default_factory=list)
    diagnostics: list[str] = Field(default_factory=list)
    dataset_notes: list[DatasetNote] = Field(default_factory=list)
    """Definitions the dataset tags for this model that this run does not produce, and why
    where a documented departure explains it."""
    llm: LLMSummary = Field(default_factory=LLMSummary)
    draft_command: str | None = None
    """For pending kernels: the command that would draft them with an LLM."""
    exit_status: int = exit_codes.SUCCESS

    def of(self, outcome: Outcome) -> list[ReportEntry]:
        return [e for e in self.entries if e.outcome == outcome]


def build_report(state: ExtractionState, *, llm_model: str | None = None, llm_endpoint: str | None = None) -> ExtractionReport:
    model, source, request = state.model, state.sglang, state.request
    assert model is not None and source is not None
    entries = [_entry(task, dry_run=request.dry_run) for task in state.tasks]
    diagnostics = []
    for inventory in state.inventories:
        diagnostics += [d for d in inventory.diagnostics if d not in diagnostics]
    report = ExtractionReport(
        model=model.slug,
        display_name=model.display_name,
        architecture=model.architecture,
        model_file=model.model_class.file,
        config_source=model.config_source,
        chosen_because=model.chosen_because,
        other_matches=model.other_matches,
        sglang_version=source.version,
        sglang_origin=source.origin,
        tp=model.profile.tp,
        ep=model.profile.ep,
        page_sizes=model.profile.page_sizes,
        dry_run=request.dry_run,
        entries=sorted(entries, key=lambda e: (e.outcome, e.op_type or "", e.name)),
        skipped_components=state.skipped,
        conditional_components=state.conditional,
        diagnostics=diagnostics,
        dataset_notes=dataset_notes(state),
        llm=LLMSummary(model=llm_model, endpoint=llm_endpoint, usage=sum((t.llm_usage for t in state.tasks), TokenUsage()), stopped=state.llm_stopped),
    )
    if report.of("pending"):
        report.draft_command = draft_command(request, llm_model=llm_model, llm_endpoint=llm_endpoint)
    report.exit_status = exit_status(report)
    return report


def dataset_notes(state: ExtractionState) -> list[DatasetNote]:
    """The dataset's definitions tagged for this model that the run does not produce."""
    produced = {t.definition["name"] for t in state.tasks if t.definition}
    model = state.model
    profile = f"tp={model.profile.tp} ep={model.profile.ep} page sizes={model.profile.page_sizes}" if model else "this profile"
    notes = []
    for name in state.dataset_tagged:
        if name in produced:
            continue
        departure = departure_for(name)
        if departure and departure.kind == "other_math" and departure.written_instead in produced:
            note = f"departure: {departure.reason}"
        else:
            note = f"not produced by this run ({profile}; quantized variants need --include-quantized)"
        notes.append(DatasetNote(name=name, note=note))
    return notes


def draft_command(request: ExtractRequest, *, llm_model: str | None = None, llm_endpoint: str | None = None) -> str:
    """The `agent extract` command for the same request, with an LLM endpoint to draft
    the pending kernels (placeholders where none is known)."""
    args = ["agent", "extract", "--model-name", request.model_name]
    if request.config_path:
        args += ["--config", request.config_path]
    for flag, values in (("--tp", request.tp), ("--ep", request.ep), ("--page-sizes", request.page_sizes)):
        if values:
            args += [flag, ",".join(map(str, values))]
    if request.stages != ["prefill", "decode"]:
        args += ["--execution-modes", ",".join(request.stages)]
    if request.include_quantized:
        args.append("--include-quantized")
    if not request.deduplicate:
        args.append("--no-deduplicate")
    args += ["--output", request.output_root]
    if request.sglang_path:
        args += ["--sglang-path", request.sglang_path]
    if request.sglang_version:
        args += ["--sglang-version", request.sglang_version]
    if request.verify != "auto":
        args += ["--verify", request.verify]
    command = " ".join(shlex.quote(a) for a in args)
    return command + f" --llm-base-url {shlex.quote(llm_endpoint) if llm_endpoint else '<URL>'} --llm-model {shlex.quote(llm_model) if llm_model else '<MODEL>'}"


def exit_status(report: ExtractionReport) -> int:
    if report.of("pending") or report.of("failed"):
        return exit_codes.INCOMPLETE
    if report.of("conflict"):
        return exit_codes.NEEDS_REVIEW
    return exit_codes.SUCCESS


def _entry(task: KernelTask, *, dry_run: bool) -> ReportEntry:
    check = task.checks[-1].summary if task.checks else None
    components = task.components
    llm = {"llm_attempts": task.attempts, "llm_usage": task.llm_usage} if task.origin == "llm" else {}
    if task.status in ("needs_llm",):
        pending = task.pending
        where = f" at {pending.location}" if pending and pending.location else ""
        more = f" (+{len(task.same_kernel)} more components)" if task.same_kernel else ""
        return ReportEntry(
            name=pending.path if pending else task.id,
            outcome="pending",
            origin=task.origin,
            components=components,
            note=f"{pending.class_name if pending else task.spec.family}{where}{more}: {task.note}",
            **llm,
        )
    if task.status == "failed":
        note = task.note
        if task.origin == "llm":
            note = f"left out after {task.attempts} LLM drafts; nothing written" + (f"; {task.note}" if task.note else "")
        return ReportEntry(name=task.name, outcome="failed", op_type=(task.definition or {}).get("op_type"), origin=task.origin, check=check, components=components, note=note, **llm)
    decision = task.decision
    assert decision is not None, f"task {task.id} reached the report without a store decision"
    note = None
    if task.status in ("unchecked",) or (task.status == "committed" and task.checks and not task.checks[-1].passed):
        note = f"not checked: {check}" if check else "not checked (--verify none)"
    if decision.action == "conflict":
        kept = "would be kept" if dry_run else "kept"
        note = f"the dataset's {decision.name} is another kernel: " + "; ".join(decision.differences) + f"; not written ({kept} at {decision.proposal_path})"
    elif decision.added_tags:
        note = ("would add tags " if dry_run else "added tags ") + ", ".join(decision.added_tags)
    if decision.action in ("existing", "shared") and decision.convention_differences:
        adopted = "the dataset's definition is used as it is; it differs from this extraction's in conventions only: "
        note = "; ".join(filter(None, [note, adopted + "; ".join(decision.convention_differences)]))
    return ReportEntry(
        name=decision.name,
        outcome=decision.action,
        op_type=task.definition.get("op_type"),
        path=decision.path,
        differences=decision.differences,
        convention_differences=decision.convention_differences,
        proposal_path=decision.proposal_path,
        origin=task.origin,
        check=check,
        components=components,
        note=note,
        **llm,
    )


def render_table(report: ExtractionReport) -> str:
    """The report as a terminal table, grouped by outcome."""
    verb = {"new": "would write" if report.dry_run else "written", "shared": "tag added", "existing": "already present",
            "conflict": "CONFLICT: not written", "pending": "PENDING (needs LLM)", "failed": "FAILED verification"}
    lines = [
        f"{report.display_name} ({report.model}) — {report.model_file}:{report.architecture}, SGLang {report.sglang_version}",
        f"profile: tp={report.tp} ep={report.ep} page sizes={report.page_sizes}; config: {report.config_source}",
        "",
    ]
    width = max([len(e.name) for e in report.entries] + [20])
    for outcome in ("new", "shared", "existing", "conflict", "failed", "pending"):
        group = report.of(outcome)
        if not group:
            continue
        lines.append(f"{outcome} ({len(group)}):")
        for entry in group:
            detail = verb[outcome] + (f" — {entry.note}" if entry.note else "")
            if entry.llm_attempts:
                detail += f" [LLM: {entry.llm_attempts} draft{'s' if entry.llm_attempts > 1 else ''}, {entry.llm_usage.total_tokens} tokens]"
            if outcome == "failed" and entry.check:
                detail += f"; last check: {entry.check}"
            lines.append(f"  {entry.name:<{width}}  {detail}")
        lines.append("")
    if report.dataset_notes:
        lines.append(f"in the dataset for this model, not produced by this run ({len(report.dataset_notes)}):")
        lines += [f"  {n.name:<{width}}  {n.note}" for n in report.dataset_notes]
        lines.append("")
    if report.skipped_components:
        lines.append(f"skipped components ({len(report.skipped_components)}): " + "; ".join(sorted({s.reason.split(';')[0] for s in report.skipped_components}))[:400])
    usage = report.llm.usage
    if report.llm.model:
        cost = f", ${usage.cost_usd:.4f}" if usage.cost_usd is not None else ""
        lines.append(
            f"LLM {report.llm.model} at {report.llm.endpoint}: {usage.requests} requests, "
            f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens{cost}"
        )
    if report.llm.stopped:
        lines.append(report.llm.stopped)
    if report.draft_command:
        lines.append(f"to draft the pending kernels with an LLM: {report.draft_command}")
    counts = ", ".join(f"{len(report.of(o))} {o}" for o in ("new", "shared", "existing", "conflict", "failed", "pending"))
    lines.append(f"total: {counts}")
    return "\n".join(lines)
