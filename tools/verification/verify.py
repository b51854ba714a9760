"""Compare references against FlashInfer (GPU) or against other references (any device).

The parent side of the `compare` worker job: find each definition's binding, build the
jobs, run them in the sandbox, read the results back as `Comparison` reports with a
verdict (`report.Verdict`). Nothing here runs reference code. `flashinfer_checks` is the
same comparison in the shape of the agent's verifiers (`verifier.py`): `ReferenceCheck`s
with the mismatches the repair prompt quotes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tools.verification.bindings import Binding, fi_api_of
from tools.verification.bindings.lookup import resolve
from tools.verification.case import Case
from tools.verification.environment import current_compute_capability
from tools.verification.inputs import default_cases
from tools.verification.reference_check import CaseResult, OutputMismatch, ReferenceCheck, check_references
from tools.verification.report import CaseComparison, Comparison
from tools.verification.sandbox import GPU_LIMITS, EventListener, SandboxLimits, run_jobs

_UNSET = object()


def verify_against_flashinfer(
    definitions: list[dict[str, Any]],
    *,
    limits: SandboxLimits = GPU_LIMITS,
    cases: dict[str, list[Case]] | None = None,
    seed: int = 0,
    on_event: EventListener | None = None,
    compute_capability: Any = _UNSET,
    workers: int = 1,
) -> dict[str, Comparison]:
    """Each definition's reference against its FlashInfer binding; reports by name.

    A definition without a binding, or whose binding cannot run on this GPU (`compute_capability`,
    default: this machine's), is `unverifiable` with the reason, and nothing runs for it.
    `workers` sandbox workers share the GPU (the references' Python loops leave it idle)."""
    capability = current_compute_capability() if compute_capability is _UNSET else compute_capability
    reports: dict[str, Comparison] = {}
    jobs, bindings = [], {}
    for definition in definitions:
        resolution = resolve(definition)
        binding = resolution.binding
        why = resolution.reason if binding is None else binding.unavailable_reason(capability)
        if why is not None:
            reports[definition["name"]] = unverifiable(definition, why, binding)
            continue
        assert binding is not None
        chosen = (cases or {}).get(definition["name"]) or default_cases(definition, "verify")
        jobs.append(_job(definition, binding_side(binding), {"reference": definition["reference"], "label": "reference"}, chosen, limits.device, seed))
        bindings[definition["name"]] = binding
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for result in pool.map(lambda part: _run(part, limits, on_event), partition(jobs, bindings, workers)):
            reports.update(result)
    return reports


# Seconds one comparison takes, warm, by op type (H100 run of 2026-11-23: the references'
# Python loops dominate); only for spreading the jobs over workers.
_COST_BY_OP_TYPE = {"sampling": 7.0, "gqa_paged": 4.5, "gqa_ragged": 3.0, "moe": 20.0, "gemm": 1.5, "rmsnorm": 0.5, "rope": 0.5, "mla_paged": 1.0}


def partition(jobs: list[dict[str, Any]], bindings: dict[str, Binding], workers: int) -> list[list[dict[str, Any]]]:
    """The jobs split over `workers` sandbox workers, so that all finish early.

    A worker builds (prepares) every binding of its jobs before it runs any reference, so
    it finishes after its slowest build plus all its comparisons. The jobs of one binding
    stay together (one build, one worker holding the MoE weights); each group goes, largest
    first, where it delays the finish least, which keeps slow builds (the top-k module:
    minutes) apart from long comparison queues (sampling). Within a worker the bindings
    that build fastest come first."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        groups.setdefault(bindings[job["id"]].name, []).append(job)

    def cost(group: list[dict[str, Any]]) -> float:
        return sum(_COST_BY_OP_TYPE.get(job["definition"]["op_type"], 2.0) for job in group)

    def build(group: list[dict[str, Any]]) -> float:
        return bindings[group[0]["id"]].build_seconds

    count = max(1, workers)
    parts: list[list[list[dict[str, Any]]]] = [[] for _ in range(count)]
    built, busy = [0.0] * count, [0.0] * count
    for group in sorted(groups.values(), key=lambda g: (build(g) + cost(g), g[0]["id"]), reverse=True):
        target = min(range(count), key=lambda i: (max(built[i], build(group)) + busy[i] + cost(group), i))
        parts[target].append(group)
        built[target], busy[target] = max(built[target], build(group)), busy[target] + cost(group)
    ordered = [sorted(part, key=lambda g: (build(g), g[0]["id"])) for part in parts]
    return [[job for group in part for job in group] for part in ordered if part]


def binding_side(binding: Binding) -> dict[str, Any]:
    """How a compare job names its trusted side: the binding and its constants."""
    return {"binding": binding.name, "values": binding.values}


def unverifiable(definition: dict[str, Any], reason: str, binding: Binding | None = None) -> Comparison:
    return Comparison(
        name=definition["name"],
        passed=False,
        verdict="unverifiable",
        reason=reason,
        expected_source=binding.fi_api if binding else (fi_api_of(definition) or "(no fi_api tag)"),
        actual_source="reference",
        **_provenance(definition, binding),
    )


def _provenance(definition: dict[str, Any], binding: Binding | None) -> dict[str, Any]:
    tag = fi_api_of(definition)
    if binding is None:
        return {"fi_api": tag}
    return {
        "fi_api": tag,
        "api_used": binding.fi_api,
        "stands_in_for": binding.stands_in_for(definition),
        "checked": binding.checked_text() or None,
        "binding": binding.name,
        "binding_values": binding.values,
    }


def compare_references(
    definition: dict[str, Any],
    expected_reference: str,
    candidates: dict[str, str],
    *,
    cases: list[Case] | None = None,
    limits: SandboxLimits | None = None,
    expected_label: str = "expected reference",
    seed: int = 0,
) -> dict[str, Comparison]:
    """Each candidate reference (by label) judged against `expected_reference` on the
    definition's verification inputs, in one sandboxed worker."""
    limits = limits or SandboxLimits()
    chosen = cases or default_cases(definition, "verify")
    expected = {"reference": expected_reference, "label": expected_label}
    jobs = {
        label: _job(definition, expected, {"reference": source, "label": label}, chosen, limits.device, seed, job_id=f"{definition['name']}:{label}")
        for label, source in candidates.items()
    }
    reports = _run(list(jobs.values()), limits)
    return {label: reports[job["id"]] for label, job in jobs.items()}


def _job(
    definition: dict[str, Any], expected: dict, actual: dict, cases: list[Case], device: str, seed: int, *, job_id: str | None = None
) -> dict[str, Any]:
    return {
        "id": job_id or definition["name"],
        "kind": "compare",
        "definition": definition,
        "expected": expected,
        "actual": actual,
        "cases": [case.model_dump() for case in cases],
        "device": device,
        "seed": seed,
    }


def _run(jobs: list[dict[str, Any]], limits: SandboxLimits, on_event: EventListener | None = None) -> dict[str, Comparison]:
    by_id = {job["id"]: job for job in jobs}
    return {job_id: read_result(by_id[job_id], raw) for job_id, raw in run_jobs(jobs, limits, on_event=on_event).items()}


def read_result(job: dict[str, Any], raw: dict[str, Any]) -> Comparison:
    """A worker's result for a compare job as a report; against a binding, with its verdict."""
    against_binding = "binding" in job["expected"]
    expected = raw.get("expected_source") or job["expected"].get("binding") or job["expected"].get("label", "expected")
    report = Comparison(
        name=job["definition"]["name"],
        passed=False,
        expected_source=expected,
        actual_source=raw.get("actual_source") or job["actual"].get("label", "reference"),
        prepare_seconds=raw.get("prepare_seconds"),
        seconds=raw.get("seconds"),
    )
    if against_binding:
        from tools.verification.bindings import binding_named

        binding = binding_named(job["expected"]["binding"], job["expected"].get("values"))
        report = report.model_copy(update=_provenance(job["definition"], binding))
    if not raw.get("ok"):
        report = report.model_copy(update={"error": raw.get("error", "the comparison failed"), "traceback": raw.get("traceback")})
        if against_binding and raw.get("stage") == "prepare":
            reason = f"the FlashInfer kernel could not be built or run on this machine: {report.error}"
            return report.model_copy(update={"verdict": "unverifiable", "reason": reason})
        return report.model_copy(update={"verdict": "failed"} if against_binding else {})
    cases = [CaseComparison.model_validate(case) for case in raw["cases"]]
    passed = bool(cases) and all(c.passed for c in cases)
    report = report.model_copy(update={"cases": cases, "passed": passed})
    if not against_binding:
        return report
    return report.model_copy(update=_case_verdict(cases))


def _case_verdict(cases: list[CaseComparison]) -> dict[str, Any]:
    """A failure of the reference outweighs a case FlashInfer (or the input generator) could not run."""
    if cases and all(c.passed for c in cases):
        return {"verdict": "verified"}
    if any(not c.passed and c.error_side not in ("expected", "inputs") for c in cases) or not cases:
        return {"verdict": "failed"}
    case = next(c for c in cases if not c.passed)
    who = "FlashInfer" if case.error_side == "expected" else "the input generator"
    return {"verdict": "unverifiable", "reason": f"case '{case.label}': {who} raised {case.error}"}


def flashinfer_checks(definitions: list[dict[str, Any]], *, limits: SandboxLimits | None = None) -> dict[str, ReferenceCheck]:
    """The GPU verifier: each reference against FlashInfer where a binding can run here, the
    CPU check (on the same sandbox `limits`) for the rest; results by name."""
    reports = verify_against_flashinfer(definitions)
    results = {name: as_reference_check(report) for name, report in reports.items() if report.verdict != "unverifiable"}
    rest = [d for d in definitions if d["name"] not in results]
    if rest:
        results.update(check_references(rest, limits=limits))
    return results


def as_reference_check(report: Comparison) -> ReferenceCheck:
    """A comparison in the verifiers' common shape."""
    who = {"expected": report.expected_source, "actual": "the reference", "inputs": "the input generator"}
    cases, mismatches = [], []
    for case in report.cases:
        problems = [f"{who[case.error_side or 'actual']} raised {case.error}"] if case.error else []
        problems += [output.message for output in case.outputs if not output.passed]
        cases.append(CaseResult(label=case.label, passed=case.passed, problems=problems, seconds=sum(case.seconds.values()) or None, traceback=case.traceback))
        mismatches += [
            OutputMismatch(
                output=output.output,
                case=case.label,
                shape=output.actual_shape,
                expected_shape=output.expected_shape,
                max_abs_error=output.max_abs_error,
                max_rel_error=output.max_rel_error,
                wrong=output.mismatched,
                total=output.total,
                sample=output.samples,
            )
            for output in case.outputs
            if not output.passed and output.distribution is None
        ]
    return ReferenceCheck(
        name=report.name,
        passed=report.passed,
        error=None if report.passed else report.summary,
        cases=cases,
        mismatches=mismatches,
        traceback=report.traceback,
        summary=report.summary,
    )
