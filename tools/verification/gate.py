"""The `status:verified` gate: verify stored definitions and write what the verdicts allow.

On a GPU each reference is compared against its FlashInfer binding; a definition that
agrees on every case becomes `status:verified` and gets a baseline solution, one that
does not is (or stays) `status:unverified`. Without a GPU only the CPU checks run and
no status is written: a CPU check cannot tell a reference from FlashInfer's semantics.
Either way a reference runs only if it passes the static check first, as in extraction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from tools.dedup_store import DefinitionStore
from tools.verification.bindings import binding_for
from tools.verification.environment import Environment
from tools.verification.reference_check import check_references
from tools.verification.report import Comparison
from tools.verification.run_log import DefinitionResult, VerificationRun, utc_now
from tools.verification.sandbox import GPU_LIMITS, SandboxLimits
from tools.verification.solutions import write_baseline_solution
from tools.verification.static_check import check_reference_source
from tools.verification.verify import verify_against_flashinfer

Listener = Callable[[dict[str, Any]], None]
Comparer = Callable[[list[dict[str, Any]]], dict[str, Comparison]]
"""Compares each definition's reference against the trusted implementation; reports by name."""


def run_verification(
    store: DefinitionStore,
    definitions: list[dict[str, Any]],
    environment: Environment,
    *,
    selection: dict[str, object] | None = None,
    limits: SandboxLimits | None = None,
    on_event: Listener | None = None,
    compare: Comparer | None = None,
) -> VerificationRun:
    """Verify `definitions` and gate their status. `compare` defaults to FlashInfer on this GPU."""
    started = utc_now()
    refused = _static_failures(definitions)
    runnable = [d for d in definitions if d["name"] not in refused]
    on_gpu = environment.device == "gpu"
    if on_gpu:
        compare = compare or (lambda chosen: verify_against_flashinfer(chosen, limits=limits or GPU_LIMITS, on_event=on_event))
        results = _verify_on_gpu(store, runnable, environment, compare) if runnable else []
    else:
        results = _check_on_cpu(runnable, limits or SandboxLimits(), on_event) if runnable else []
    op_types = {d["name"]: d["op_type"] for d in definitions}
    for name, why in refused.items():
        if on_gpu:
            store.set_status(name, "unverified")
        results.append(DefinitionResult(name=name, op_type=op_types[name], passed=False, summary=why, status="unverified" if on_gpu else None))
    results.sort(key=lambda r: r.name)
    return VerificationRun(
        started_at=started,
        finished_at=utc_now(),
        mode="flashinfer" if environment.device == "gpu" else "cpu",
        dataset=str(store.root),
        selection=selection or {},
        environment=environment,
        results=results,
    )


def _static_failures(definitions: list[dict[str, Any]]) -> dict[str, str]:
    """Definitions whose reference may not run, with why."""
    failures = {}
    for definition in definitions:
        static = check_reference_source(definition.get("reference", ""))
        if not static.passed:
            failures[definition["name"]] = "static check: " + "; ".join(static.problems)
    return failures


def _verify_on_gpu(store: DefinitionStore, definitions: list[dict[str, Any]], environment: Environment, compare: Comparer) -> list[DefinitionResult]:
    comparisons = compare(definitions)
    results = []
    for definition in definitions:
        comparison = comparisons[definition["name"]]
        binding = binding_for(definition)
        status = "verified" if comparison.passed else "unverified"
        store.set_status(definition["name"], status)
        solution = write_baseline_solution(Path(store.root), definition, binding, environment) if comparison.passed else None
        results.append(
            DefinitionResult(
                name=definition["name"],
                op_type=definition["op_type"],
                passed=comparison.passed,
                summary=comparison.summary,
                status=status,
                binding=binding.name if binding else None,
                baseline_solution=str(solution) if solution else None,
                prepare_seconds=comparison.prepare_seconds,
                seconds=comparison.seconds,
                comparison=comparison,
            )
        )
    return results


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
