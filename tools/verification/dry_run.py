"""`agent verify --dry-run`: everything a GPU verification does before the GPU, on the CPU.

For each definition: the static check of its reference, the binding found for it (or why
none), the API it calls and what FlashInfer would check, its verification cases, the
compare job a GPU run would send (built and serialised), the kernel module's source as it
would ship (constants filled in, compiled), and, for definitions with a binding, each
case's inputs generated in the sandboxed worker (`inputs` job) with their shapes and
sizes. Nothing is written and no kernel runs: a dry run answers "would this session's GPU
time be spent on what we think" before the session.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from tools.verification.bindings import fi_api_of
from tools.verification.bindings.lookup import resolve
from tools.verification.inputs import default_cases
from tools.verification.sandbox import EventListener, SandboxLimits, run_jobs
from tools.verification.static_check import check_reference_source
from tools.verification.verify import binding_side


class CaseInputs(BaseModel):
    label: str
    axes: dict[str, int] = Field(default_factory=dict)
    bytes: int = 0
    """Total size of the generated inputs."""
    error: str | None = None
    """The input generator raised (a bug to fix before the GPU session)."""
    skipped: str | None = None
    """Not generated here (too large for this machine's memory cap); not an error."""


class DryRunEntry(BaseModel):
    name: str
    op_type: str
    fi_api: str | None = None
    binding: str | None = None
    matched_by: str | None = None
    api_used: str | None = None
    stands_in_for: str | None = None
    checked: str | None = None
    requires: list[str] = Field(default_factory=list)
    reason: str | None = None
    """Why there is no binding (the definition would be unverifiable)."""
    static_problems: list[str] = Field(default_factory=list)
    """Why the reference may not run (the static check every run makes first)."""
    job_bytes: int = 0
    """Size of the serialised compare job."""
    cases: list[CaseInputs] = Field(default_factory=list)


class DryRun(BaseModel):
    entries: list[DryRunEntry]


def dry_run(definitions: list[dict[str, Any]], *, limits: SandboxLimits, on_event: EventListener | None = None) -> DryRun:
    entries, jobs = [], []
    for definition in definitions:
        entry, job = _plan(definition)
        entries.append(entry)
        if job is not None:
            jobs.append(job)
    generated = run_jobs(jobs, limits, on_event=on_event) if jobs else {}
    for entry in entries:
        raw = generated.get(entry.name)
        if raw is None:
            continue
        if raw.get("ok"):
            entry.cases = [CaseInputs.model_validate(c) for c in raw["cases"]]
        else:
            entry.cases = [CaseInputs(label="(all cases)", error=raw.get("error", "the input job failed"))]
    return DryRun(entries=entries)


def _plan(definition: dict[str, Any]) -> tuple[DryRunEntry, dict[str, Any] | None]:
    static = check_reference_source(definition.get("reference", ""))
    entry = DryRunEntry(name=definition["name"], op_type=definition["op_type"], fi_api=fi_api_of(definition), static_problems=static.problems)
    resolution = resolve(definition)
    if resolution.binding is None:
        return entry.model_copy(update={"reason": resolution.reason}), None
    binding = resolution.binding
    cases = [c.model_dump() for c in default_cases(definition, "verify")]
    compile(binding.source(), str(binding.source_path), "exec")  # the shipped file, constants filled in
    compare_job = {"id": definition["name"], "kind": "compare", "definition": definition, "expected": binding_side(binding), "cases": cases}
    entry = entry.model_copy(
        update={
            "binding": binding.name,
            "matched_by": resolution.matched_by,
            "api_used": binding.fi_api,
            "stands_in_for": binding.stands_in_for(definition),
            "checked": binding.checked_text() or None,
            "requires": list(binding.requires),
            "job_bytes": len(json.dumps(compare_job)),
        }
    )
    return entry, {"id": definition["name"], "kind": "inputs", "definition": definition, "cases": cases, "device": "cpu", "seed": 0}


def generate_case_inputs(job: dict[str, Any]) -> dict[str, Any]:
    """Worker side of the `inputs` job: generate each case's inputs and describe them."""
    import torch

    from tools.verification.execution import var_axis_values
    from tools.verification.inputs import Case, make_inputs

    definition = job["definition"]
    described = []
    for data in job["cases"]:
        case = Case(**data)
        entry: dict[str, Any] = {"label": case.label}
        try:
            inputs = make_inputs(definition, case, device="cpu", seed=job.get("seed", 0))
            entry["axes"] = var_axis_values(definition, inputs)
            entry["bytes"] = sum(t.numel() * t.element_size() for t in inputs if isinstance(t, torch.Tensor))
            problems = _dtype_problems(definition, inputs)
            if problems:
                entry["error"] = "; ".join(problems)
            del inputs
        except Exception as exc:  # reported, the dry run goes on
            if isinstance(exc, MemoryError) or "allocate" in str(exc):  # torch's CPU allocator raises RuntimeError
                entry["skipped"] = "the inputs exceed this machine's memory cap for the dry run"
            else:
                entry["error"] = f"{type(exc).__name__}: {exc}"
        described.append(entry)
    return {"cases": described}


def _dtype_problems(definition: dict[str, Any], inputs: list[Any]) -> list[str]:
    import torch

    problems = []
    for (name, spec), value in zip(definition["inputs"].items(), inputs):
        if isinstance(value, torch.Tensor):
            got = str(value.dtype).replace("torch.", "")
            if got != spec["dtype"]:
                problems.append(f"input {name!r} generated as {got}, declared {spec['dtype']}")
            if spec["shape"] is not None and len(spec["shape"]) != value.dim():
                problems.append(f"input {name!r} generated with {value.dim()} dims, declared {len(spec['shape'])}")
    return problems


def render_dry_run(outcome: DryRun) -> str:
    lines = ["verification dry run (CPU: no kernel runs, nothing is written)", ""]
    width = max((len(e.name) for e in outcome.entries), default=10)
    indent = " " * (width + 4)
    for entry in outcome.entries:
        if entry.binding is None:
            lines.append(f"  {entry.name:<{width}}  unverifiable: {entry.reason}")
            continue
        generated = sum(1 for c in entry.cases if not c.error and not c.skipped)
        size = max((c.bytes for c in entry.cases), default=0) / 2**20
        lines.append(f"  {entry.name:<{width}}  {entry.binding} ({entry.matched_by}); {len(entry.cases)} cases, inputs {generated} generated, largest {size:.1f} MiB")
        if entry.stands_in_for:
            lines.append(f"{indent}via {entry.api_used} for fi_api {entry.stands_in_for}")
        if entry.checked:
            lines.append(f"{indent}FlashInfer would check: {entry.checked}")
        if entry.requires:
            lines.append(f"{indent}needs {', '.join(entry.requires)} on the GPU machine")
        lines += [f"{indent}case '{c.label}': {c.error or c.skipped}" for c in entry.cases if c.error or c.skipped]
        lines += [f"{indent}static check: {problem}" for problem in entry.static_problems]
    bound = sum(1 for e in outcome.entries if e.binding)
    failed = sum(1 for e in outcome.entries for c in e.cases if c.error)
    refused = sum(1 for e in outcome.entries if e.static_problems)
    lines += [
        "",
        f"total: {bound} with a binding, {len(outcome.entries) - bound} unverifiable, {failed} cases whose inputs could not be generated, "
        f"{refused} references refused by the static check",
    ]
    return "\n".join(lines)
