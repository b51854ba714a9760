"""Worker job `compare`: two implementations of a definition, the same inputs, a report.

The expected side is trusted (a FlashInfer binding, or a known-good reference); the
actual side is the reference under test. One side is untrusted code, so this runs only
inside the sandboxed worker. Each side gets its own copy of the inputs (FlashInfer's
in-place APIs and careless references must not change what the other side sees) and
the same torch seed. Samplers are drawn from many times and compared statistically.

Job: {"definition", "cases": [Case], "expected": Side, "actual": Side, "device", "seed"}
where a Side is {"binding": name, "values": constants} or {"reference": source, "label": text}.
"""

from __future__ import annotations

import math
import time
import traceback
from typing import Any, Callable

import torch

from tools.verification.bindings import binding_named
from tools.verification.case import Case
from tools.verification.compare import compare_outputs
from tools.verification.execution import as_outputs, load_reference, var_axis_values
from tools.verification.families import Family, family_for
from tools.verification.inputs import make_inputs
from tools.verification.report import CaseComparison, OutputComparison
from tools.verification.sampling_stats import allowed_tokens, compare_draws, count_draws


class _Side:
    """One implementation: its `run`, how it is named in reports, and the template check it brings."""

    def __init__(self, spec: dict[str, Any], definition: dict[str, Any]) -> None:
        self.is_binding = "binding" in spec
        if self.is_binding:
            binding = binding_named(spec["binding"], spec.get("values"))
            self.run = binding.load()
            self.label = binding.fi_api
            self.template_check = binding.template_check()
        else:
            self.run = load_reference(spec["reference"], definition["name"])
            self.label = spec.get("label", "reference")
            self.template_check = None


class _SideFailed(Exception):
    def __init__(self, side: str, exc: BaseException) -> None:
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.side = side
        self.trace = traceback.format_exc(limit=8)[-3000:]


def run_comparison(job: dict[str, Any]) -> dict[str, Any]:
    definition = job["definition"]
    expected = _Side(job["expected"], definition)
    actual = _Side(job["actual"], definition)
    family = family_for(definition)
    cases = [
        _run_case(definition, family, Case(**case), expected, actual, job.get("device", "cpu"), job.get("seed", 0)).model_dump()
        for case in job["cases"]
    ]
    return {"cases": cases, "expected_source": expected.label, "actual_source": actual.label}


def _run_case(definition: dict[str, Any], family: Family, case: Case, expected: _Side, actual: _Side, device: str, seed: int) -> CaseComparison:
    report = CaseComparison(label=case.label, passed=False)
    try:
        inputs = make_inputs(definition, case, device=device, seed=seed)
    except Exception as exc:
        return report.model_copy(update={"error": f"{type(exc).__name__}: {exc}", "error_side": "inputs", "traceback": traceback.format_exc(limit=6)})
    report.axes = var_axis_values(definition, inputs)
    try:
        if family.sampling is not None:
            report.outputs = [_compare_samplers(definition, family, case, inputs, expected, actual, device, seed, report.seconds)]
        else:
            report.outputs, report.template_check = _compare_once(definition, family, inputs, expected, actual, device, seed, report.seconds)
    except _SideFailed as failure:
        report.error, report.error_side, report.traceback = str(failure), failure.side, failure.trace
    finally:
        del inputs
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    report.passed = report.error is None and bool(report.outputs) and all(o.passed for o in report.outputs)
    return report


def _call(side: str, run: Callable[..., Any], inputs: list[Any], names: list[str], device: str) -> list[Any]:
    copies = [value.clone() if isinstance(value, torch.Tensor) else value for value in inputs]
    try:
        with torch.no_grad():
            result = as_outputs(run(*copies), names)
        _synchronize(device)
    except Exception as exc:
        raise _SideFailed(side, exc) from exc
    return result


def _compare_once(
    definition: dict[str, Any], family: Family, inputs: list[Any], expected: _Side, actual: _Side, device: str, seed: int, seconds: dict[str, float]
) -> tuple[list[OutputComparison], bool | None]:
    names = list(definition["outputs"])
    results = {}
    for side, implementation in (("expected", expected), ("actual", actual)):
        torch.manual_seed(seed)
        started = time.perf_counter()
        results[side] = _call(side, implementation.run, inputs, names, device)
        seconds[side] = round(time.perf_counter() - started, 4)
    if family.unordered_rows:
        results = {side: as_row_sets(definition, values, family.unordered_rows) for side, values in results.items()}
    outputs = compare_outputs(definition, results["expected"], results["actual"], family.tolerance_for(definition))
    return outputs, _template_verdict(expected.template_check, results["actual"], results["expected"])


def as_row_sets(definition: dict[str, Any], values: list[Any], names: tuple[str, ...]) -> list[Any]:
    """Each named output's rows sorted, the -1 padding last: equal tensors for equal row sets."""
    out = list(values)
    for index, name in enumerate(definition["outputs"]):
        value = out[index] if index < len(out) else None
        if name in names and isinstance(value, torch.Tensor) and value.dim() == 2 and not value.is_floating_point():
            last = torch.iinfo(torch.int64).max
            ordered = torch.where(value < 0, last, value.to(torch.int64)).sort(dim=1).values
            out[index] = torch.where(ordered == last, -1, ordered).to(value.dtype)
    return out


def _template_verdict(check: Callable[..., bool] | None, reference_outputs: list[Any], api_outputs: list[Any]) -> bool | None:
    if check is None:
        return None
    try:
        return bool(check(reference_outputs, api_outputs))
    except Exception:  # advisory only: a template check that cannot read these outputs says nothing
        return None


def _compare_samplers(
    definition: dict[str, Any], family: Family, case: Case, inputs: list[Any], expected: _Side, actual: _Side, device: str, seed: int, seconds: dict[str, float]
) -> OutputComparison:
    criteria = family.sampling
    names = list(definition["outputs"])
    by_name = dict(zip(definition["inputs"], inputs))
    distinct = case.extra.get("distinct_rows", case.batch_size)
    repeats = case.batch_size // distinct
    probs = by_name["probs"][:distinct]
    allowed = allowed_tokens(probs, _first(by_name.get("top_k"), distinct), _first(by_name.get("top_p"), distinct), criteria.top_p_slack)
    counts, out_of_range = {}, {}
    # Different seeds: the two samplers' draws must be independent for the statistics to mean anything.
    for side_seed, (side, implementation) in enumerate((("expected", expected), ("actual", actual)), start=seed):
        draws = criteria.baseline_draws if implementation.is_binding else criteria.draws
        counts[side] = torch.zeros(distinct, probs.shape[1], dtype=torch.int64, device=probs.device)
        out_of_range[side] = 0
        torch.manual_seed(side_seed)
        started = time.perf_counter()
        for trial in range(math.ceil(draws / repeats)):
            samples = _call(side, implementation.run, inputs, names, device)[0]
            if trial == 0:
                wrong = _wrong_sample_tensor(definition, names[0], samples, case.batch_size, side)
                if wrong is not None:
                    return wrong
            out_of_range[side] += count_draws(counts[side], samples)
        seconds[side] = round(time.perf_counter() - started, 4)
    return compare_draws(names[0], counts["expected"], counts["actual"], allowed, probs, criteria, out_of_range)


def _wrong_sample_tensor(definition: dict[str, Any], name: str, samples: Any, batch: int, side: str) -> OutputComparison | None:
    who = "the reference" if side == "actual" else "the expected sampler"
    declared = definition["outputs"][name]["dtype"]
    if not isinstance(samples, torch.Tensor):
        return OutputComparison(output=name, passed=False, problem="missing", message=f"{who} returned {type(samples).__name__}, not a tensor")
    dtype = str(samples.dtype).replace("torch.", "")
    if list(samples.shape) != [batch]:
        return OutputComparison(output=name, passed=False, problem="shape", message=f"{who} returned shape {list(samples.shape)}, expected [{batch}]")
    if dtype != declared:
        return OutputComparison(output=name, passed=False, problem="dtype", message=f"{who} returned dtype {dtype}; the definition declares {declared}")
    return None


def _first(values: torch.Tensor | None, rows: int) -> torch.Tensor | None:
    return None if values is None else values[:rows]


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
