"""Compare references against FlashInfer (GPU) or against other references (any device).

The parent side of the `compare` worker job: build the jobs, run them in the sandbox,
read the results back as `Comparison` reports. Nothing here runs reference code.
`flashinfer_checks` is the same comparison in the shape of the agent's verifiers
(`verifier.py`): `ReferenceCheck`s with the mismatches the repair prompt quotes.
"""

from __future__ import annotations

from typing import Any

from tools.verification.bindings import binding_for, fi_api_of
from tools.verification.case import Case
from tools.verification.inputs import default_cases
from tools.verification.reference_check import CaseResult, OutputMismatch, ReferenceCheck, check_references
from tools.verification.report import CaseComparison, Comparison
from tools.verification.sandbox import GPU_LIMITS, EventListener, SandboxLimits, run_jobs


def verify_against_flashinfer(
    definitions: list[dict[str, Any]],
    *,
    limits: SandboxLimits = GPU_LIMITS,
    cases: dict[str, list[Case]] | None = None,
    seed: int = 0,
    on_event: EventListener | None = None,
) -> dict[str, Comparison]:
    """Each definition's reference against its FlashInfer binding; reports by name."""
    reports: dict[str, Comparison] = {}
    jobs = []
    for definition in definitions:
        binding = binding_for(definition)
        if binding is None:
            reports[definition["name"]] = Comparison(
                name=definition["name"],
                passed=False,
                expected_source=fi_api_of(definition) or "(no fi_api tag)",
                actual_source="reference",
                error=f"no FlashInfer binding for {fi_api_of(definition) or 'a definition without an fi_api tag'} yet "
                "(see tools/verification/bindings/)",
            )
            continue
        chosen = (cases or {}).get(definition["name"]) or default_cases(definition, "verify")
        jobs.append(
            _job(definition, {"binding": binding.name}, {"reference": definition["reference"], "label": "reference"}, chosen, limits.device, seed)
        )
    reports.update(_run(jobs, limits, on_event))
    return reports


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
    return {job_id: _read(by_id[job_id], raw) for job_id, raw in run_jobs(jobs, limits, on_event=on_event).items()}


def _read(job: dict[str, Any], raw: dict[str, Any]) -> Comparison:
    expected = raw.get("expected_source") or job["expected"].get("binding") or job["expected"].get("label", "expected")
    report = Comparison(
        name=job["definition"]["name"],
        passed=False,
        expected_source=expected,
        actual_source=raw.get("actual_source") or job["actual"].get("label", "reference"),
        prepare_seconds=raw.get("prepare_seconds"),
        seconds=raw.get("seconds"),
    )
    if not raw.get("ok"):
        return report.model_copy(update={"error": raw.get("error", "the comparison failed"), "traceback": raw.get("traceback")})
    cases = [CaseComparison.model_validate(case) for case in raw["cases"]]
    return report.model_copy(update={"cases": cases, "passed": bool(cases) and all(c.passed for c in cases)})


def flashinfer_checks(definitions: list[dict[str, Any]], *, limits: SandboxLimits | None = None) -> dict[str, ReferenceCheck]:
    """The GPU verifier: each reference against FlashInfer where a binding exists, the CPU
    check (on the same sandbox `limits`) for the rest; results by name."""
    bound, unbound = [], []
    for definition in definitions:
        (bound if binding_for(definition) is not None else unbound).append(definition)
    results = {name: as_reference_check(report) for name, report in verify_against_flashinfer(bound).items()}
    if unbound:
        results.update(check_references(unbound, limits=limits))
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
