"""KernelSpec -> validated flashinfer-trace Definition dict, with the dataset's tags."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from tools import naming
from tools.definition_builder.families import FAMILIES, trace_family
from tools.definition_builder.normalize import normalize_template_definition
from tools.errors import DefinitionError
from tools.kernel_spec import KernelSpec


class BuildContext(BaseModel):
    """Who the definition is extracted for."""

    model_slug: str
    sglang_version: str


def has_template(family: str) -> bool:
    return family in FAMILIES


def build_definition(spec: KernelSpec, context: BuildContext) -> dict[str, Any]:
    """The dataset definition for `spec`, validated by flashinfer-bench's own schema."""
    raw = trace_family(spec)
    family = FAMILIES[spec.family]
    definition = normalize_template_definition(raw, reference_name=family.reference_name, param_aliases=dict(family.param_aliases))
    definition["tags"] = extraction_tags(definition["tags"], spec, context)
    validate_definition(definition)
    return definition


def extraction_tags(template_tags: list[str], spec: KernelSpec, context: BuildContext) -> list[str]:
    """Template tags (fi_api, stage, ...) plus the extraction's model/parallel/status tags."""
    tags = set(template_tags)
    if spec.stage:
        tags.add(naming.stage_tag(spec.stage))
    tags.add(naming.model_tag(context.model_slug))
    if spec.tp is not None:
        tags.add(naming.tp_tag(spec.tp))
    if spec.ep is not None:
        tags.add(naming.ep_tag(spec.ep))
    if spec.quantization:
        tags.add(naming.quantization_tag(spec.quantization))
    tags.add(naming.sglang_tag(context.sglang_version))
    tags = {t for t in tags if not t.startswith(naming.STATUS_TAG_PREFIX)}
    tags.add(naming.status_tag("unverified"))
    return sorted(tags)


def validate_definition(definition: dict[str, Any]) -> None:
    """Raise DefinitionError unless flashinfer_bench.data.Definition accepts `definition`."""
    from flashinfer_bench.data import Definition

    try:
        Definition.model_validate(definition)
    except ValidationError as exc:
        raise DefinitionError(f"{definition.get('name')}: not a valid flashinfer-bench Definition: {exc}") from exc
