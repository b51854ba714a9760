"""What a batch run ends with: a table for people, the same as JSON for scripts, and
the exit status (one place decides it)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent import exit_codes
from agent.batch.extraction import ModelOutcome
from agent.batch.planning import Plan
from tools.publish.state import BatchState


class ModelLine(BaseModel):
    slug: str
    status: str
    new: int = 0
    shared: int = 0
    existing: int = 0
    conflict: int = 0
    pending: int = 0
    failed: int = 0
    seconds: float = 0.0
    error: str | None = None
    report: str | None = None


class BundleLine(BaseModel):
    id: str
    kind: str
    status: str
    """ready | draft | blocked | planned (dry run)."""
    title: str
    branch: str
    key: str
    definitions: list[str]
    files: list[str]
    reasons: list[str] = Field(default_factory=list)
    published: dict[str, dict[str, str | int | None]] = Field(default_factory=dict)
    """By backend: action, url, status, number."""
    error: str | None = None


class HeldBackLine(BaseModel):
    name: str
    models: list[str]
    reason: str


class BatchSummary(BaseModel):
    dataset: str
    run_dir: str | None
    dry_run: bool
    publish: list[str]
    models: list[ModelLine] = Field(default_factory=list)
    bundles: list[BundleLine] = Field(default_factory=list)
    held_back: list[HeldBackLine] = Field(default_factory=list)
    exit_status: int = exit_codes.SUCCESS


def build_summary(dataset: str, run_dir: str | None, dry_run: bool, publish: list[str], outcomes: list[ModelOutcome], plan: Plan, titles: dict[str, str], state: BatchState | None) -> BatchSummary:
    summary = BatchSummary(dataset=dataset, run_dir=run_dir, dry_run=dry_run, publish=publish)
    for outcome in outcomes:
        counts = {action: len(outcome.of(action)) for action in ("new", "shared", "existing", "conflict")}
        summary.models.append(ModelLine(slug=outcome.slug, status="failed" if outcome.error else "extracted", pending=len(outcome.pending), failed=len(outcome.failed),
                                        seconds=round(outcome.seconds, 1), error=outcome.error, report=outcome.report_path, **counts))
    for planned in plan.bundles:
        bundle = planned.bundle
        record = state.bundles.get(bundle.id) if state else None
        published = {}
        if record:
            for backend, pr in record.published.items():
                published[backend] = {"action": record.actions.get(backend), "url": pr.url, "status": pr.status, "number": pr.number}
            for backend, action in record.actions.items():
                published.setdefault(backend, {"action": action, "url": None, "status": None, "number": None})
        summary.bundles.append(BundleLine(id=bundle.id, kind=bundle.kind, status=planned.status, title=titles[bundle.id], branch=bundle.branch, key=bundle.key,
                                          definitions=bundle.definitions, files=sorted(bundle.files), reasons=planned.reasons, published=published,
                                          error=record.error if record else None))
    summary.held_back = [HeldBackLine(name=h.name, models=h.models, reason=h.reason) for h in plan.held_back]
    summary.exit_status = exit_status(summary)
    return summary


def exit_status(summary: BatchSummary) -> int:
    if any(b.error for b in summary.bundles):
        return exit_codes.PUBLISH_FAILED
    incomplete = (
        any(m.error or m.pending or m.failed for m in summary.models)
        or any(b.status in ("blocked", "draft") for b in summary.bundles)
        or any(not h.reason.startswith("conflict") for h in summary.held_back)
    )
    if incomplete:
        return exit_codes.INCOMPLETE
    if summary.held_back:
        return exit_codes.NEEDS_REVIEW
    return exit_codes.SUCCESS


def render_table(summary: BatchSummary) -> str:
    lines = [f"batch over {len(summary.models)} models into {summary.dataset}" + (" (dry run: nothing written, nothing sent)" if summary.dry_run else ""), ""]
    width = max([len(m.slug) for m in summary.models] + [10])
    lines.append(f"  {'model':<{width}}  {'new':>4} {'shared':>6} {'exist':>5} {'confl':>5} {'pend':>4}  time")
    for m in summary.models:
        if m.error:
            lines.append(f"  {m.slug:<{width}}  FAILED: {m.error.splitlines()[0]}")
        else:
            lines.append(f"  {m.slug:<{width}}  {m.new:>4} {m.shared:>6} {m.existing:>5} {m.conflict:>5} {m.pending:>4}  {m.seconds:.1f}s")
    lines.append("")
    lines.append(f"bundles ({len(summary.bundles)}):" if summary.bundles else "bundles: none")
    for b in summary.bundles:
        lines.append(f"  [{b.status}] {b.title}")
        lines.append(f"      branch {b.branch}, key {b.key}, {len(b.files)} files: {', '.join(b.files)}")
        for reason in b.reasons:
            lines.append(f"      - {reason}")
        for backend, info in b.published.items():
            lines.append(f"      {backend}: {str(info.get('action') or '').replace('_', ' ')} {info.get('url') or ''}".rstrip())
        if b.error:
            lines.append(f"      ERROR: {b.error}")
    if summary.held_back:
        lines += ["", f"held back ({len(summary.held_back)}):"]
        lines += [f"  {h.name} ({', '.join(h.models)}): {h.reason}" for h in summary.held_back]
    if summary.run_dir:
        lines += ["", f"state and workspaces: {summary.run_dir}"]
    return "\n".join(lines)
