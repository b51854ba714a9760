"""The `status:verified` gate: verify stored definitions and write what the verdicts allow.

On a GPU each reference is compared against its FlashInfer binding (`verify.py`), with
one of three verdicts, and the `status:` tag follows this policy, which `agent verify`
documents:

- `verified`: the definition becomes `status:verified` and gets a baseline solution.
- `failed`: it becomes `status:unverified`, but only where that changes nothing someone
  else decided: when it has no status, is already unverified, or carries the status this
  tool last wrote for it (the dataset's verification log says which). A `status:verified`
  or `status:reference` written by a person or another tool is left as it is, and the run
  reports the disagreement as a finding, unless `demote_failed` is set.
- `unverifiable`: nothing is written; the reason is reported.

Without a GPU only the CPU checks run and no status is written: a CPU check cannot tell
a reference from FlashInfer's semantics. Either way a reference runs only if it passes
the static check first, as in extraction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from tools import naming
from tools.dedup_store import DefinitionStore
from tools.verification.bindings import Binding, binding_named
from tools.verification.bindings.lookup import resolve
from tools.verification.environment import Environment, parse_compute_capability
from tools.verification.reference_check import check_references
from tools.verification.report import Comparison
from tools.verification.run_log import DefinitionResult, VerificationRun, statuses_written, utc_now
from tools.verification.sandbox import GPU_LIMITS, SandboxLimits
from tools.verification.solutions import write_baseline_solution
from tools.verification.static_check import check_reference_source
from tools.verification.verify import verify_against_flashinfer

Listener = Callable[[dict[str, Any]], None]
Comparer = Callable[[list[dict[str, Any]]], dict[str, Comparison]]
"""Compares each definition's reference against the trusted implementation; reports by name."""


def flashinfer_comparer(environment: Environment, *, limits: SandboxLimits, on_event: Listener | None = None, workers: int = 1) -> Comparer:
    """The comparison against FlashInfer on this machine's GPU: the bindings its compute capability runs."""
    capability = parse_compute_capability(environment.compute_capability)
    return lambda chosen: verify_against_flashinfer(chosen, limits=limits, on_event=on_event, compute_capability=capability, workers=workers)


def run_verification(
    store: DefinitionStore,
    definitions: list[dict[str, Any]],
    environment: Environment,
    *,
    selection: dict[str, object] | None = None,
    limits: SandboxLimits | None = None,
    on_event: Listener | None = None,
    compare: Comparer | None = None,
    demote_failed: bool = False,
    workers: int = 1,
) -> VerificationRun:
    """Verify `definitions` and gate their status. `compare` defaults to FlashInfer on this GPU."""
    started = utc_now()
    refused = _static_failures(definitions)
    runnable = [d for d in definitions if d["name"] not in refused]
    on_gpu = environment.device == "gpu"
    if on_gpu:
        compare = compare or flashinfer_comparer(environment, limits=limits or GPU_LIMITS, on_event=on_event, workers=workers)
        comparisons = compare(runnable) if runnable else {}
        for name, why in refused.items():
            comparisons[name] = Comparison(name=name, passed=False, verdict="failed", expected_source="static check", actual_source="reference", error=why)
        results = _gate(store, definitions, comparisons, environment, demote_failed)
    else:
        results = _check_on_cpu(runnable, limits or SandboxLimits(), on_event) if runnable else []
        results += [DefinitionResult(name=n, op_type=_op_type(definitions, n), passed=False, summary=why) for n, why in refused.items()]
    results.sort(key=lambda r: r.name)
    return VerificationRun(
        started_at=started,
        finished_at=utc_now(),
        mode="flashinfer" if on_gpu else "cpu",
        dataset=str(store.root),
        selection=selection or {},
        environment=environment,
        results=results,
    )


def _op_type(definitions: list[dict[str, Any]], name: str) -> str:
    return next(d["op_type"] for d in definitions if d["name"] == name)


def _static_failures(definitions: list[dict[str, Any]]) -> dict[str, str]:
    """Definitions whose reference may not run, with why."""
    failures = {}
    for definition in definitions:
        static = check_reference_source(definition.get("reference", ""))
        if not static.passed:
            failures[definition["name"]] = "static check: " + "; ".join(static.problems)
    return failures


def current_status(definition: dict[str, Any]) -> str | None:
    return next((t[len(naming.STATUS_TAG_PREFIX) :] for t in definition.get("tags", []) if t.startswith(naming.STATUS_TAG_PREFIX)), None)


def status_after(verdict: str | None, before: str | None, ours: str | None, demote_failed: bool) -> tuple[str | None, str | None]:
    """(the status to write or None, why a status was kept): the policy in the module docstring.
    `ours` is the status this tool last wrote for the definition."""
    if verdict == "verified":
        return "verified", None
    if verdict != "failed":
        return None, None
    if before in (None, "unverified") or before == ours or demote_failed:
        return "unverified", None
    return None, (
        f"status:{before} kept: it was not written by agent verify (rerun with --demote-failed to mark it "
        "unverified); this run's verdict is the finding"
    )


def _gate(
    store: DefinitionStore, definitions: list[dict[str, Any]], comparisons: dict[str, Comparison], environment: Environment, demote_failed: bool
) -> list[DefinitionResult]:
    ours = statuses_written(Path(store.root))
    results = []
    for definition in definitions:
        name = definition["name"]
        comparison = comparisons[name]
        before = current_status(definition)
        verdict = comparison.verdict or ("verified" if comparison.passed else "failed")
        status, note = status_after(verdict, before, ours.get(name), demote_failed)
        if status is not None:
            store.set_status(name, status)
        binding = _binding_of(definition, comparison)
        solution = None
        if verdict == "verified" and binding is not None:
            solution = write_baseline_solution(Path(store.root), definition, binding, environment)
        results.append(
            DefinitionResult(
                name=name,
                op_type=definition["op_type"],
                passed=verdict == "verified",
                verdict=verdict,
                summary=comparison.summary,
                status=status,
                status_before=before,
                status_note=note,
                binding=binding.name if binding else None,
                fi_api=comparison.fi_api,
                api_used=comparison.api_used,
                checked=comparison.checked,
                baseline_solution=str(solution) if solution else None,
                prepare_seconds=comparison.prepare_seconds,
                seconds=comparison.seconds,
                comparison=comparison,
            )
        )
    return results


def _binding_of(definition: dict[str, Any], comparison: Comparison) -> Binding | None:
    """The binding a comparison ran, with the constants it ran with (they are in the source shipped)."""
    if comparison.binding is not None:
        return binding_named(comparison.binding, comparison.binding_values)
    return resolve(definition).binding


def _check_on_cpu(definitions: list[dict[str, Any]], limits: SandboxLimits, on_event: Listener | None) -> list[DefinitionResult]:
    checks = check_references(definitions, limits=limits, on_event=on_event)
    results = []
    for definition in definitions:
        check = checks[definition["name"]]
        if check.passed:
            summary = f"CPU check passed on {len(check.cases)} cases: runs, declared shapes and dtypes, finite, deterministic"
        else:
            summary = check.skipped or check.error or "failed"
        results.append(
            DefinitionResult(
                name=definition["name"],
                op_type=definition["op_type"],
                passed=check.passed,
                summary=summary,
                seconds=sum(c.seconds or 0.0 for c in check.cases) or None,
                cpu_check=check,
            )
        )
    return results
