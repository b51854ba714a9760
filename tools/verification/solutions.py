"""Baseline solutions: for each verified definition, the FlashInfer call as a flashinfer-bench Solution.

The solution's source is the binding's kernel module, byte for byte: the code whose
outputs matched the reference is the code flashinfer-bench benchmarks as the baseline.
Written to `DIR/solutions/baseline/{op_type}/{name}/{solution_name}.json`: the layout
flashinfer-bench's validator reads (`solutions/{author}/{op_type}/{definition}/{solution}.json`,
exactly four parts, the file stem the solution's name); it skips any other depth silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tools.dedup_store import write_json_atomic
from tools.errors import DefinitionError
from tools.verification.bindings import Binding
from tools.verification.environment import Environment

AUTHOR = "baseline"
ENTRY_FILE = "main.py"


def solution_name(definition_name: str) -> str:
    return f"{definition_name}_flashinfer_baseline"


def baseline_solution(definition: dict[str, Any], binding: Binding, environment: Environment) -> dict[str, Any]:
    """The Solution dict; validated by flashinfer-bench's own schema."""
    verified_on = environment.gpu_name or "a GPU"
    solution = {
        "name": solution_name(definition["name"]),
        "definition": definition["name"],
        "author": AUTHOR,
        "description": (
            f"FlashInfer baseline: {binding.description}. Calls {binding.fi_api}; its outputs matched the "
            f"definition's reference on {verified_on} (flashinfer {environment.flashinfer}, torch {environment.torch})."
        ),
        "spec": {
            "language": "python",
            "target_hardware": ["cuda"],
            "entry_point": f"{ENTRY_FILE}::run",
            "dependencies": [f"flashinfer-python=={environment.flashinfer}" if environment.flashinfer else "flashinfer-python"],
            "destination_passing_style": False,
        },
        "sources": [{"path": ENTRY_FILE, "content": binding.source()}],
    }
    validate_solution(solution)
    return solution


def validate_solution(solution: dict[str, Any]) -> None:
    from flashinfer_bench.data import Solution

    try:
        Solution.model_validate(solution)
    except ValidationError as exc:
        raise DefinitionError(f"{solution.get('name')}: not a valid flashinfer-bench Solution: {exc}") from exc


def solution_path(root: Path, definition: dict[str, Any]) -> Path:
    name = definition["name"]
    return Path(root) / "solutions" / AUTHOR / definition["op_type"] / name / f"{solution_name(name)}.json"


def write_baseline_solution(root: Path, definition: dict[str, Any], binding: Binding, environment: Environment) -> Path:
    path = solution_path(root, definition)
    write_json_atomic(path, baseline_solution(definition, binding, environment))
    return path
