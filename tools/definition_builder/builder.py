"""KernelSpec -> validated flashinfer-trace Definition dict, with the dataset's tags."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from tools.dataset_conventions import dataset_tags, family_convention
from tools.definition_builder.families import FAMILIES, trace_family
from tools.definition_builder.normalize import normalize_template_definition
from tools.errors import DefinitionError
from tools.kernel_spec import KernelSpec


class BuildContext(BaseModel):
    """Who the definition is extracted for."""

    model_slug: str


def has_template(family: str) -> bool:
    return family in FAMILIES


def build_definition(spec: KernelSpec, context: BuildContext) -> dict[str, Any]:
    """The dataset definition for `spec`, validated by flashinfer-bench's own schema."""
    raw = trace_family(spec)
    family = FAMILIES[spec.family]
    definition = normalize_template_definition(
        raw, reference_name=family.reference_name, param_aliases=dict(family.param_aliases), kept_axes=family.kept_axes
    )
    definition["tags"] = extraction_tags(definition, spec, context)
    validate_definition(definition)
    return definition


def extraction_tags(definition: dict[str, Any], spec: KernelSpec, context: BuildContext) -> list[str]:
    """The dataset's tags for a new definition of the family (stage, descriptive tags,
    `fi_api:` as the dataset spells it), with the model and the parallel sizes the op
    type's files carry. The template's own tags are not kept."""
    convention = family_convention(spec.family)
    if convention is None:
        raise DefinitionError(f"No dataset convention is written down for family {spec.family!r} (tools/family_conventions.py).")
    return dataset_tags(
        op_type=definition["op_type"],
        name=definition["name"],
        model_slug=context.model_slug,
        stage=convention.stage,
        descriptive=convention.descriptive,
        fi_api=convention.fi_api,
        tps=[tp for tp in {spec.tp, *spec.profile_tps} if tp is not None],
        ep=spec.ep,
    )


def validate_definition(definition: dict[str, Any]) -> None:
    """Raise DefinitionError unless flashinfer_bench.data.Definition accepts `definition`."""
    from flashinfer_bench.data import Definition

    try:
        Definition.model_validate(definition)
    except ValidationError as exc:
        raise DefinitionError(f"{definition.get('name')}: not a valid flashinfer-bench Definition: {exc}") from exc
