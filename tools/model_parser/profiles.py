"""Parse a resolved model at every TP/EP size of its serving profile.

The rules `agent extract` and `agent baseline` share: SGLang splits experts within the
TP group, so only EP sizes that divide TP are served (others are skipped and said so);
a model without experts is parsed at its first EP size only (other EPs change nothing);
a profile the model's constructors reject (heads not divisible by TP) is an error.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from tools.errors import ProfileError
from tools.model_parser.inventory import Inventory, parse_model
from tools.model_parser.runtime import ParallelProfile
from tools.model_parser.source_index import SourceIndex
from tools.model_registry.resolver import ResolvedModel


class ParsedProfiles(BaseModel):
    inventories: list[Inventory] = Field(default_factory=list)
    seconds: list[float] = Field(default_factory=list)
    """Parse time of each inventory, in order."""
    skipped: list[tuple[int, int]] = Field(default_factory=list)
    """(tp, ep) pairs of the profile that SGLang cannot serve (EP does not divide TP)."""


def parse_profiles(index: SourceIndex, model: ResolvedModel) -> ParsedProfiles:
    profile = model.profile
    served = [(tp, ep) for tp in profile.tp for ep in profile.ep if tp % ep == 0]
    if not served:
        raise ProfileError(
            f"No EP in {profile.ep} divides a TP in {profile.tp}: SGLang splits experts within the TP group.",
            hint="Use --ep values that divide --tp.",
        )
    result = ParsedProfiles(skipped=[(tp, ep) for tp in profile.tp for ep in profile.ep if (tp, ep) not in served])
    has_experts: bool | None = None
    for tp, ep in served:
        if has_experts is False and ep != profile.ep[0]:
            continue  # no experts: other EP sizes give the same model
        started = time.monotonic()
        inventory = parse_model(index, model.model_class.module, model.model_class.architecture, model.config, ParallelProfile(tp=tp, ep=ep))
        if inventory.failures:
            raise ProfileError(
                f"{model.display_name} cannot be built at TP={tp}, EP={ep}: " + "; ".join(inventory.failures[:3]),
                hint="Choose --tp/--ep values the model's head and expert counts divide by.",
            )
        has_experts = bool(inventory.of_kind("moe"))
        result.inventories.append(inventory)
        result.seconds.append(time.monotonic() - started)
    return result
