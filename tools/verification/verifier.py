"""The one door every reference passes before it counts as checked, and what a failure says.

`verify_definitions(definitions, mode)` statically checks each reference
(`static_check.py`); those that fail never run. The rest go to the verifier for `mode`.
A verifier is any function `(definitions, *, limits) -> {name: ReferenceCheck}`:

- `cpu`: run each reference in the sandboxed worker (`reference_check.py`): it runs,
  and its outputs have the declared shapes and dtypes, are finite and deterministic;
- `gpu`: compare each reference against the FlashInfer kernel it stands for, on a GPU
  (`verify.py`), where a binding exists, and the CPU check for the rest; the same
  `ReferenceCheck`s with `mismatches` filled in. The agent's verify and repair steps
  read only `ReferenceCheck`, so they need no change for it. `auto` picks it where a
  CUDA GPU and FlashInfer are present.

`describe_failure(check)` turns a failed check into the text the repair prompt quotes.
"""

from __future__ import annotations

from typing import Any, Callable

from tools.verification.environment import gpu_available
from tools.verification.reference_check import ReferenceCheck, check_references
from tools.verification.sandbox import SandboxLimits
from tools.verification.static_check import check_reference_source
from tools.verification.verify import flashinfer_checks

Verifier = Callable[..., dict[str, ReferenceCheck]]

VERIFIERS: dict[str, Verifier] = {"cpu": check_references, "gpu": flashinfer_checks}

# `auto` is the best verifier this machine has.
AUTO_ORDER = ("gpu", "cpu")
_AVAILABLE: dict[str, Callable[[], bool]] = {"gpu": gpu_available}


def select_verifier(mode: str) -> Verifier:
    if mode == "auto":
        mode = next(m for m in AUTO_ORDER if m in VERIFIERS and _AVAILABLE.get(m, lambda: True)())
    if mode not in VERIFIERS:
        raise ValueError(f"no verifier named {mode!r}; known: {sorted(VERIFIERS)}")
    return VERIFIERS[mode]


def verify_definitions(definitions: list[dict[str, Any]], mode: str, *, limits: SandboxLimits | None = None) -> dict[str, ReferenceCheck]:
    """Static check, then the `mode` verifier, for each definition; results by name."""
    results: dict[str, ReferenceCheck] = {}
    runnable = []
    for definition in definitions:
        static = check_reference_source(definition.get("reference", ""))
        if static.passed:
            runnable.append(definition)
        else:
            results[definition["name"]] = ReferenceCheck(
                name=definition["name"], passed=False, error="static check: " + "; ".join(static.problems)
            )
    if runnable:
        results.update(select_verifier(mode)(runnable, limits=limits))
    return results


_TRACEBACK_LINES = 12
_SAMPLE_POSITIONS = 5


def describe_failure(check: ReferenceCheck) -> str:
    """A failed check as plain text: what failed, where, the exception, wrong values."""
    lines = [f"verdict: {'skipped' if check.skipped else 'failed'}: {check.skipped or check.error}"]
    if check.traceback:
        lines += ["exception before any case ran:", _tail(check.traceback)]
    for case in check.cases:
        if case.passed:
            lines.append(f"case '{case.label}': passed")
            continue
        lines.append(f"case '{case.label}': failed")
        lines += [f"  - {problem}" for problem in case.problems]
        if case.traceback:
            lines.append(_tail(case.traceback))
    for mismatch in check.mismatches:
        where = f" (case '{mismatch.case}')" if mismatch.case else ""
        lines.append(f"output '{mismatch.output}'{where} differs from the expected values:")
        if mismatch.shape is not None or mismatch.expected_shape is not None:
            lines.append(f"  shape {mismatch.shape}, expected {mismatch.expected_shape}")
        if mismatch.max_abs_error is not None:
            lines.append(f"  max abs error {mismatch.max_abs_error:.6g}, max rel error {mismatch.max_rel_error:.6g}")
        if mismatch.wrong is not None:
            lines.append(f"  {mismatch.wrong} of {mismatch.total} elements outside the tolerance")
        for value in mismatch.sample[:_SAMPLE_POSITIONS]:
            lines.append(f"  at {value.index}: expected {value.expected:.6g}, got {value.actual:.6g}")
    return "\n".join(lines)


def _tail(traceback: str) -> str:
    return "\n".join("    " + line for line in traceback.strip().splitlines()[-_TRACEBACK_LINES:])
