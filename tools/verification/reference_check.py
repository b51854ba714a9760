"""CPU checks of reference code: it runs, and its outputs have the declared shapes and
dtypes, are finite and are deterministic. Runs in the sandboxed worker."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field

from tools.verification.inputs import Case, default_cases
from tools.verification.sandbox import EventListener, SandboxLimits, run_jobs

# References run as plain PyTorch on the CPU: cap what one check may allocate.
DEFAULT_MAX_INPUT_BYTES = 2 * 1024**3


class CaseResult(BaseModel):
    label: str
    passed: bool
    problems: list[str] = Field(default_factory=list)
    seconds: float | None = None
    traceback: str | None = None
    """The tail of the traceback when the reference raised."""


class WrongValue(BaseModel):
    """One position where an output differs from the expected value."""

    index: list[int]
    expected: float
    actual: float


class OutputMismatch(BaseModel):
    """An output that differs from what a numerical comparison expected (e.g. the
    FlashInfer kernel's result on a GPU)."""

    output: str
    case: str | None = None
    shape: list[int] | None = None
    expected_shape: list[int] | None = None
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    wrong: int | None = None
    """How many elements are outside the tolerance."""
    total: int | None = None
    sample: list[WrongValue] = Field(default_factory=list)
    """A few of the wrong positions."""


class ReferenceCheck(BaseModel):
    """Outcome of running one definition's reference on the CPU."""

    name: str
    passed: bool
    skipped: str | None = None
    """Why the check did not run (too large for the CPU), if it did not."""
    error: str | None = None
    """The first failure, for reports."""
    cases: list[CaseResult] = Field(default_factory=list)
    mismatches: list[OutputMismatch] = Field(default_factory=list)
    """Outputs a numerical comparison found wrong (empty for the CPU check, which has
    nothing to compare against)."""
    traceback: str | None = None
    """The traceback when the reference failed before any case ran (e.g. on import)."""
    summary: str | None = None
    """One line for reports, in the verifier's words: what a pass established."""


def estimated_input_bytes(definition: dict[str, Any], case: Case) -> int:
    """Memory a CPU run needs, counted as float32: references upcast what they read."""
    small = max(case.batch_size, sum(case.kv_lens or [1]), sum(case.q_lens or [1])) * 4
    total = 0
    for spec in definition["inputs"].values():
        if spec["shape"] is None:
            continue
        dims = [definition["axes"][a].get("value") or small for a in spec["shape"]]
        total += math.prod(dims) * 4
    return total


def check_references(
    definitions: list[dict[str, Any]],
    *,
    limits: SandboxLimits | None = None,
    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES,
    cases: dict[str, list[Case]] | None = None,
    on_event: EventListener | None = None,
) -> dict[str, ReferenceCheck]:
    """Check each definition's reference; results by definition name."""
    results: dict[str, ReferenceCheck] = {}
    jobs = []
    for definition in definitions:
        chosen = (cases or {}).get(definition["name"]) or default_cases(definition)
        largest = max(estimated_input_bytes(definition, c) for c in chosen)
        if largest > max_input_bytes:
            results[definition["name"]] = ReferenceCheck(
                name=definition["name"], passed=False,
                skipped=f"inputs need ~{largest / 1024**3:.1f} GiB: too large for a CPU check, verify on a GPU",
            )
            continue
        jobs.append({"id": definition["name"], "kind": "reference_check", "definition": definition, "cases": [c.model_dump() for c in chosen]})
    by_name = {d["name"]: d for d in definitions}
    for name, raw in run_jobs(jobs, limits, on_event=on_event).items():
        results[name] = _judge(by_name[name], raw)
    return results


def _judge(definition: dict[str, Any], raw: dict[str, Any]) -> ReferenceCheck:
    name = definition["name"]
    if not raw.get("ok"):
        return ReferenceCheck(name=name, passed=False, error=raw.get("error", "failed"), traceback=raw.get("traceback"))
    case_results = []
    for case in raw["cases"]:
        problems = []
        if "error" in case:
            problems.append(case["error"])
        else:
            problems += _output_problems(definition, case)
            if not case.get("deterministic", True):
                problems.append("two runs on the same inputs gave different outputs")
        case_results.append(
            CaseResult(label=case["label"], passed=not problems, problems=problems, seconds=case.get("seconds"), traceback=case.get("traceback"))
        )
    first = next((f"{c.label}: {c.problems[0]}" for c in case_results if c.problems), None)
    summary = first or f"reference ran on {len(case_results)} CPU cases: shapes, dtypes, finite, deterministic"
    return ReferenceCheck(name=name, passed=first is None, error=first, cases=case_results, summary=summary)


def _output_problems(definition: dict[str, Any], case: dict[str, Any]) -> list[str]:
    problems = []
    outputs = list(definition["outputs"].items())
    if case["count"] != len(outputs):
        problems.append(f"run() returned {case['count']} outputs, the definition declares {len(outputs)}")
    axes = case.get("axes", {})
    for (name, spec), got in zip(outputs, case["outputs"]):
        if "shape" not in got:
            problems.append(f"output {name!r} is a {got.get('type')}, not a tensor")
            continue
        expected = [definition["axes"][a].get("value", axes.get(a)) for a in (spec["shape"] or [])]
        if None not in expected and got["shape"] != expected:
            problems.append(f"output {name!r} has shape {got['shape']}, expected {expected}")
        if got["dtype"] != spec["dtype"]:
            problems.append(f"output {name!r} has dtype {got['dtype']}, expected {spec['dtype']}")
        if got.get("finite") is False:
            problems.append(f"output {name!r} has non-finite values ({got.get('nan', 0)} NaN)")
    return problems
