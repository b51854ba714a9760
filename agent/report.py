"""The extraction report: what was written, shared, skipped or left pending, and why."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from agent import exit_codes
from agent.state import ExtractionState, KernelTask
from tools.kernel_spec import SkippedComponent

Outcome = Literal["new", "existing", "shared", "conflict", "pending", "failed"]


class ReportEntry(BaseModel):
    name: str
    """Definition name (the stored, possibly versioned, name); the component path for pending kernels."""
    outcome: Outcome
    op_type: str | None = None
    path: str | None = None
    origin: str
    check: str | None = None
    """The last verification result."""
    components: list[str] = Field(default_factory=list)
    note: str | None = None


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
    exit_status: int = exit_codes.SUCCESS

    def of(self, outcome: Outcome) -> list[ReportEntry]:
        return [e for e in self.entries if e.outcome == outcome]


def build_report(state: ExtractionState) -> ExtractionReport:
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
    )
    report.exit_status = exit_status(report)
    return report


def exit_status(report: ExtractionReport) -> int:
    if report.of("pending") or report.of("failed"):
        return exit_codes.INCOMPLETE
    if report.of("conflict"):
        return exit_codes.NEEDS_REVIEW
    return exit_codes.SUCCESS


def _entry(task: KernelTask, *, dry_run: bool) -> ReportEntry:
    check = task.checks[-1].summary if task.checks else None
    components = task.spec.components if task.spec else ([task.pending.path] if task.pending else [])
    if task.status in ("needs_llm",):
        pending = task.pending
        where = f" at {pending.location}" if pending and pending.location else ""
        return ReportEntry(
            name=pending.path if pending else task.id,
            outcome="pending",
            origin=task.origin,
            components=components,
            note=f"{pending.class_name if pending else task.spec.family}{where}: {task.note}",
        )
    if task.status == "failed":
        return ReportEntry(name=task.name, outcome="failed", op_type=(task.definition or {}).get("op_type"), origin=task.origin, check=check, components=components, note=task.note)
    decision = task.decision
    assert decision is not None, f"task {task.id} reached the report without a store decision"
    note = None
    if task.status in ("unchecked",) or (task.status == "committed" and task.checks and not task.checks[-1].passed):
        note = f"not checked on the CPU: {check}"
    if decision.action == "conflict":
        note = f"{decision.name} exists with another signature ({decision.conflicts_with}): " + "; ".join(decision.differences[:4])
    elif decision.added_tags:
        note = ("would add tags " if dry_run else "added tags ") + ", ".join(decision.added_tags)
    return ReportEntry(
        name=decision.stored_name,
        outcome=decision.action,
        op_type=task.definition.get("op_type"),
        path=decision.path,
        origin=task.origin,
        check=check,
        components=components,
        note=note,
    )


def render_table(report: ExtractionReport) -> str:
    """The report as a terminal table, grouped by outcome."""
    verb = {"new": "would write" if report.dry_run else "written", "shared": "tag added", "existing": "already present",
            "conflict": "CONFLICT: versioned copy", "pending": "PENDING (needs LLM)", "failed": "FAILED verification"}
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
            lines.append(f"  {entry.name:<{width}}  {detail}")
        lines.append("")
    if report.skipped_components:
        lines.append(f"skipped components ({len(report.skipped_components)}): " + "; ".join(sorted({s.reason.split(';')[0] for s in report.skipped_components}))[:400])
    counts = ", ".join(f"{len(report.of(o))} {o}" for o in ("new", "shared", "existing", "conflict", "failed", "pending"))
    lines.append(f"total: {counts}")
    return "\n".join(lines)
