"""Kernel families: how to build valid inputs for a definition and at which shapes to run it.

Each module in this package declares `FAMILIES`, a list of `Family`. A family claims
definitions with `matches` (by op type and name); `family_for` finds the one family that
claims a definition, or falls back to random tensors of the declared shapes. Adding a
family (MoE, GDN, DSA...) is adding a module here: nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache
from typing import Any, Callable

import torch

from tools.verification.case import Case, Purpose
from tools.verification.criteria import SamplingCriteria, Tolerance, tolerance_for
from tools.verification.tensors import fill_random

InputMaker = Callable[[dict[str, Any], Case, torch.Generator], dict[str, Any]]
CaseMaker = Callable[[dict[str, Any], Purpose], list[Case]]


@dataclass(frozen=True)
class Family:
    name: str
    matches: Callable[[dict[str, Any]], bool]
    """Whether a definition belongs to the family."""
    make_inputs: InputMaker
    """Input values by name for one case (index tensors consistent, scalars set)."""
    cases: CaseMaker
    """The cases to check or verify a definition at."""
    sampling: SamplingCriteria | None = None
    """Set for samplers: outputs are compared by their statistics, not element-wise."""
    tolerance: Tolerance | None = None
    """Overrides the tolerance chosen from the definition's dtypes."""
    unordered_rows: tuple[str, ...] = ()
    """Outputs whose rows are sets padded with -1 (selected indices): compared row by row
    as sets, whatever order each side lists them in."""

    def tolerance_for(self, definition: dict[str, Any]) -> Tolerance:
        return self.tolerance or tolerance_for(definition)


def _generic_inputs(definition: dict[str, Any], case: Case, generator: torch.Generator) -> dict[str, Any]:
    sizes = {axis: case.extra.get(axis, case.batch_size) for axis, spec in definition["axes"].items() if spec["type"] == "var"}
    return fill_random(definition, sizes, generator)


def _generic_cases(definition: dict[str, Any], purpose: Purpose) -> list[Case]:
    return [Case(label="one row", batch_size=1), Case(label="several rows", batch_size=5)]


GENERIC = Family(name="generic", matches=lambda d: True, make_inputs=_generic_inputs, cases=_generic_cases)
"""Random tensors of the declared shapes, every runtime axis the batch size."""


@cache
def registered_families() -> tuple[Family, ...]:
    """Every family declared in this package's modules (discovered once per process)."""
    found: list[Family] = []
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        found.extend(getattr(module, "FAMILIES", ()))
    return tuple(found)


def family_for(definition: dict[str, Any]) -> Family:
    matches = [family for family in registered_families() if family.matches(definition)]
    if len(matches) > 1:
        raise ValueError(f"{definition['name']}: claimed by several families: {[f.name for f in matches]}")
    return matches[0] if matches else GENERIC
