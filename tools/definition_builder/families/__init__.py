"""Every kernel family the builder knows, by name: `trace_family(spec)` -> raw definition."""

from __future__ import annotations

from typing import Any

from tools.definition_builder.families import basic, gdn, kda, mla_dsa, moe, rope
from tools.definition_builder.families.common import Family
from tools.errors import DefinitionError
from tools.kernel_spec import KernelSpec

FAMILIES: dict[str, Family] = {f.name: f for module in (basic, mla_dsa, moe, gdn, kda, rope) for f in module.FAMILIES}


def trace_family(spec: KernelSpec) -> dict[str, Any]:
    """The family's raw definition dict for `spec` (not yet normalised)."""
    family = FAMILIES.get(spec.family)
    if family is None:
        raise DefinitionError(f"No definition family {spec.family!r} is registered.")
    missing = [axis for axis in family.required_axes if axis not in spec.axes]
    if missing:
        raise DefinitionError(f"{spec.family} needs constant axes {missing}; the planner gave {sorted(spec.axes)}.")
    return family.trace(spec)
